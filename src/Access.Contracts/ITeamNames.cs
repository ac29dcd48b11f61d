namespace LlmMarketplace.Access.Contracts;

/// <summary>Team names by id (implemented by Access from its in-memory directory, read by modules that show teams to people).</summary>
public interface ITeamNames
{
    /// <summary>The name of the team, or null for an unknown id.</summary>
    string? NameOf(string teamId);
}
