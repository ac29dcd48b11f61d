using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;

namespace LlmMarketplace.BuildingBlocks.Storage;

/// <summary>
/// Moves the tables <see cref="Database.OwnFiles"/> names out of the embedded database's main file into their own files,
/// after the migrations (an embedded database made before a table had its own file keeps every row, with the same
/// sequence numbers). Each step writes one file only and can be repeated, so a move cut short by a crash completes at
/// the next start without losing or doubling a row: copy what is missing into the own file, check that every row is
/// there, then drop the table from the main file.
/// </summary>
internal static partial class OwnFileMove
{
    /// <summary>Moves every table still in the main file; <paramref name="connection"/> has the own files attached.</summary>
    public static void Run(SqliteConnection connection)
    {
        foreach (var (schema, tables) in Database.OwnFiles)
        {
            foreach (var table in tables) Move(connection, schema, table);
        }
    }

    /// <summary>How many tables are still in the main file (read without writing anything), for <see cref="Migrator.Inspect"/>.</summary>
    public static int Pending(Database database)
    {
        var readOnly = new SqliteConnectionStringBuilder(database.ConnectionString) { Mode = SqliteOpenMode.ReadOnly, Pooling = false };
        using var connection = new SqliteConnection(readOnly.ToString());
        connection.Open();
        return Database.OwnFiles.SelectMany(static f => f.Tables).Count(table => Scalar(connection, null,
            "SELECT COUNT(*) FROM main.sqlite_master WHERE type = 'table' AND name = $table", table) > 0);
    }

    private static void Move(SqliteConnection connection, string schema, string table)
    {
        var definitions = new List<(string Type, string Sql)>();
        using (var read = connection.CreateCommand())
        {
            read.CommandText = "SELECT type, sql FROM main.sqlite_master WHERE tbl_name = $table AND sql IS NOT NULL ORDER BY type <> 'table'";
            read.Parameters.AddWithValue("$table", table);
            using var reader = read.ExecuteReader();
            while (reader.Read()) definitions.Add((reader.GetString(0), reader.GetString(1)));
        }
        if (definitions.Count == 0 || definitions[0].Type != "table") return;

        var columns = new List<string>();
        using (var read = connection.CreateCommand())
        {
            read.CommandText = "SELECT name FROM pragma_table_info($table, 'main') ORDER BY cid";
            read.Parameters.AddWithValue("$table", table);
            using var reader = read.ExecuteReader();
            while (reader.Read()) columns.Add(Quote(reader.GetString(0)));
        }
        var list = string.Join(", ", columns);

        // 1. Copy into the own file what it does not hold yet (this transaction writes the own file only).
        using (var copy = connection.BeginTransaction())
        {
            var exists = Scalar(connection, copy, $"SELECT COUNT(*) FROM {schema}.sqlite_master WHERE type = 'table' AND name = $table", table) > 0;
            if (!exists)
            {
                foreach (var (_, sql) in definitions) Execute(connection, copy, Qualify(sql, schema));
            }
            Execute(connection, copy, $"INSERT OR IGNORE INTO {schema}.{Quote(table)} ({list}) SELECT {list} FROM main.{Quote(table)}");
            // An AUTOINCREMENT table keeps its high-water mark, so no sequence number is ever handed out twice.
            if (Scalar(connection, copy, "SELECT COUNT(*) FROM main.sqlite_master WHERE name = 'sqlite_sequence'") > 0
                && Scalar(connection, copy, $"SELECT COUNT(*) FROM {schema}.sqlite_master WHERE name = 'sqlite_sequence'") > 0)
            {
                Execute(connection, copy, $"""
                    INSERT INTO {schema}.sqlite_sequence (name, seq)
                    SELECT name, seq FROM main.sqlite_sequence WHERE name = $table
                      AND NOT EXISTS (SELECT 1 FROM {schema}.sqlite_sequence WHERE name = $table)
                    """, table);
                Execute(connection, copy, $"""
                    UPDATE {schema}.sqlite_sequence
                    SET seq = MAX(seq, COALESCE((SELECT seq FROM main.sqlite_sequence WHERE name = $table), 0))
                    WHERE name = $table
                    """, table);
            }
            copy.Commit();
        }

        // 2. Every row of the main file's table must be in the own file before the table leaves the main file.
        var missing = Scalar(connection, null,
            $"SELECT COUNT(*) FROM main.{Quote(table)} AS m WHERE NOT EXISTS (SELECT 1 FROM {schema}.{Quote(table)} AS o WHERE o.rowid = m.rowid)");
        if (missing != 0)
        {
            throw new InvalidOperationException($"moving {table} into its own file: {missing} row(s) were not copied; the main file keeps the table.");
        }

        // 3. Drop it from the main file (this transaction writes the main file only).
        using var drop = connection.BeginTransaction();
        Execute(connection, drop, $"DROP TABLE main.{Quote(table)}");
        drop.Commit();
    }

    /// <summary>A table's or index's definition as stored in <c>sqlite_master</c>, made to create it in <paramref name="schema"/>.</summary>
    internal static string Qualify(string sql, string schema)
    {
        var match = CreateStatement().Match(sql);
        if (!match.Success) throw new InvalidOperationException($"unexpected definition in sqlite_master: {sql}");
        return string.Concat(sql.AsSpan(0, match.Length), schema, ".", sql.AsSpan(match.Length));
    }

    [GeneratedRegex(@"^\s*CREATE\s+(?:UNIQUE\s+)?(?:TABLE|INDEX)\s+(?:IF\s+NOT\s+EXISTS\s+)?", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex CreateStatement();

    private static string Quote(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    private static long Scalar(SqliteConnection connection, SqliteTransaction? transaction, string sql, string? table = null)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        if (table is not null) command.Parameters.AddWithValue("$table", table);
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static void Execute(SqliteConnection connection, SqliteTransaction transaction, string sql, string? table = null)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        if (table is not null) command.Parameters.AddWithValue("$table", table);
        command.ExecuteNonQuery();
    }
}
