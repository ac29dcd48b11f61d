using System.Text;
using Dapper;

namespace LlmMarketplace.BuildingBlocks.Storage;

/// <summary>
/// A WHERE clause built from optional conditions, each with its parameter: a condition whose value is null is left out.
/// The same SQL on SQLite and PostgreSQL.
/// </summary>
public sealed class SqlFilter
{
    private readonly StringBuilder _sql = new();

    public DynamicParameters Parameters { get; } = new();

    /// <summary>The clause with its leading space (<c>" WHERE a = @a AND ..."</c>), or empty when no condition applies.</summary>
    public string Where => _sql.ToString();

    /// <summary>Adds <paramref name="condition"/> (which names <c>@<paramref name="name"/></c>) when <paramref name="value"/> is set.</summary>
    public SqlFilter Add(string condition, string name, object? value)
    {
        if (value is null) return this;
        Next().Append(condition);
        Parameters.Add(name, value);
        return this;
    }

    /// <summary>
    /// When <paramref name="values"/> is set, keeps only rows whose <paramref name="column"/> is one of them (one parameter
    /// each, <c>@<paramref name="name"/>0</c>, ...); an empty list keeps no row.
    /// </summary>
    public SqlFilter AddIn(string column, string name, IReadOnlyList<string>? values)
    {
        if (values is null) return this;
        if (values.Count == 0)
        {
            Next().Append("1 = 0");
            return this;
        }
        Next().Append(column).Append(" IN (");
        for (var i = 0; i < values.Count; i++)
        {
            if (i > 0) _sql.Append(", ");
            _sql.Append('@').Append(name).Append(i);
            Parameters.Add(name + i, values[i]);
        }
        _sql.Append(')');
        return this;
    }

    private StringBuilder Next() => _sql.Append(_sql.Length == 0 ? " WHERE " : " AND ");
}
