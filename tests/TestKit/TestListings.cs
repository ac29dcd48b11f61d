using System.Text.Json.Nodes;

namespace LlmMarketplace.TestKit;

/// <summary>Bodies of new catalog listings (<c>POST api/v1/services</c>) for the tests that publish one.</summary>
public static class TestListings
{
    /// <summary>
    /// Version <paramref name="version"/> of a text chat model: 8K context, 1K output, $0.50 and $1.50 per million tokens,
    /// one deployment of the upstream model <c>tiny-1</c> at <paramref name="baseUrl"/> in eu-west. A test adds what it
    /// is about (compliance, SLA, tags) to the object it gets.
    /// </summary>
    public static JsonObject Chat(string slug, string baseUrl, string name, string description, string publisher = "acme", string version = "1.0.0") => new()
    {
        ["slug"] = slug,
        ["version"] = version,
        ["name"] = name,
        ["description"] = description,
        ["publisher"] = publisher,
        ["category"] = "text-generation",
        ["kind"] = "chat",
        ["inputModalities"] = new JsonArray("text"),
        ["outputModalities"] = new JsonArray("text"),
        ["contextLength"] = 8192,
        ["maxOutputTokens"] = 1024,
        ["pricing"] = new JsonObject { ["inputPerMTok"] = 0.5m, ["outputPerMTok"] = 1.5m },
        ["deployments"] = new JsonArray(new JsonObject { ["provider"] = "acme-cloud", ["upstreamModel"] = "tiny-1", ["baseUrl"] = baseUrl, ["region"] = "eu-west" }),
    };
}
