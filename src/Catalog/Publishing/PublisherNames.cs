using LlmMarketplace.Access.Contracts;

namespace LlmMarketplace.Catalog.Publishing;

/// <summary>
/// The name people read for a listing's publisher: the team's name when the publisher is a team id (Access knows it),
/// else the publisher as written (an imported provider such as <c>openai</c>, or <c>platform</c>).
/// </summary>
internal sealed class PublisherNames(ITeamNames teams)
{
    public string Of(string publisher) => teams.NameOf(publisher) ?? publisher;
}
