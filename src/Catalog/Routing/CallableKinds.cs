using LlmMarketplace.Gateway.Configuration;

namespace LlmMarketplace.Catalog.Routing;

/// <summary>Which listing kinds the gateway calls (and as which model kind), and why the others are not callable.</summary>
internal static class CallableKinds
{
    /// <summary>The gateway's model kind of a listing kind; null for a kind the gateway does not serve (an OpenAPI service).</summary>
    public static ModelKind? Of(string? kind) => kind switch
    {
        ListingKinds.Chat or null => ModelKind.Chat,
        ListingKinds.Embedding => ModelKind.Embedding,
        ListingKinds.Reranker => ModelKind.Rerank,
        ListingKinds.Moderation => ModelKind.Moderation,
        ListingKinds.Image => ModelKind.Image,
        ListingKinds.Transcription => ModelKind.Transcription,
        ListingKinds.Speech => ModelKind.Speech,
        _ => null,
    };

    /// <summary>The listing kind of a configured model's kind.</summary>
    public static string ListingKind(ModelKind kind) => kind switch
    {
        ModelKind.Embedding => ListingKinds.Embedding,
        ModelKind.Rerank => ListingKinds.Reranker,
        ModelKind.Moderation => ListingKinds.Moderation,
        ModelKind.Image => ListingKinds.Image,
        ModelKind.Transcription => ListingKinds.Transcription,
        ModelKind.Speech => ListingKinds.Speech,
        _ => ListingKinds.Chat,
    };

    /// <summary>Why a listing of <paramref name="kind"/> cannot be called through the gateway; null when it can.</summary>
    public static string? NotCallable(string? kind) => Of(kind) is null ? $"kind '{kind}' is not served by the gateway" : null;
}
