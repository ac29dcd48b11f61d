using System.Data.Common;
using Dapper;

namespace LlmMarketplace.BuildingBlocks.Storage;

/// <summary>
/// The base of a module's store: connections to the configured database, and Dapper mapping <c>snake_case</c> columns to
/// the PascalCase members of its rows.
/// </summary>
public abstract class ModuleStore(Database database)
{
    static ModuleStore() => DefaultTypeMap.MatchNamesWithUnderscores = true;

    public Database Database => database;

    public Task<DbConnection> OpenAsync(CancellationToken cancellationToken = default) => database.OpenAsync(cancellationToken);
}
