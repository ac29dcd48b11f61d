using System.Text;
using LlmMarketplace.Portal.Client;
using Microsoft.AspNetCore.Http;

namespace LlmMarketplace.Portal;

/// <summary>
/// The statements page's CSV link: the browser holds only the session cookie, so the portal asks the API for the CSV
/// with the signed-in person's token and hands it on as a file. What the API refuses, the download refuses.
/// </summary>
internal static class StatementDownload
{
    public static async Task<IResult> GetAsync(string? team, string? month, PortalApi api, PortalSession session, CancellationToken ct)
    {
        if (!session.IsSignedIn) return TypedResults.Redirect("/login?returnUrl=" + Uri.EscapeDataString("/statements"));
        var query = $"team={Uri.EscapeDataString(team ?? "")}&month={Uri.EscapeDataString(month ?? "")}";
        var answer = await api.GetAsync("api/v1/statements?format=csv&" + query, ct);
        if (answer.Status == StatusCodes.Status401Unauthorized) return TypedResults.Redirect("/login?returnUrl=" + Uri.EscapeDataString("/statements?" + query));
        if (!answer.Ok) return TypedResults.Problem(answer.Message, statusCode: answer.Status);
        var name = $"statement-{Safe(team)}-{Safe(month)}.csv";
        return TypedResults.File(Encoding.UTF8.GetBytes(answer.Text ?? ""), "text/csv; charset=utf-8", name);
    }

    /// <summary>Letters, digits and dashes only: a file name taken from the query names nothing else.</summary>
    private static string Safe(string? text) => new([.. (text ?? "").Where(static c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_').Take(64)]);
}
