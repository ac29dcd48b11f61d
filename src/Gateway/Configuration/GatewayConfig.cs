using LlmMarketplace.BuildingBlocks.Net;
namespace LlmMarketplace.Gateway.Configuration;

/// <summary>Provider protocol families the gateway speaks.</summary>
public enum ProviderType
{
    OpenAI,
    AzureOpenAI,
    Anthropic,
    Gemini,

    /// <summary>Models run in this process (for example the embedding model <c>all-minilm-l6-v2</c>); no <c>BaseUrl</c>.</summary>
    Local,

    /// <summary>Amazon Bedrock's Converse API, signed with AWS Signature Version 4.</summary>
    Bedrock,

    /// <summary>Google Vertex AI: Gemini models (generateContent) and Anthropic models (rawPredict), with Google OAuth tokens.</summary>
    Vertex,

    // OpenAI-compatible presets (see Providers.OpenAIPresets): OpenAI's protocol with a known base URL and auth.
    Mistral,
    Groq,
    Together,
    Fireworks,
    DeepSeek,
    XAI,
    OpenRouter,
    Perplexity,
    Vllm,
    Ollama,
    LMStudio,
    LlamaCpp,
    Tgi,

    /// <summary>Cohere's v2 API: <c>/v2/chat</c>, <c>/v2/embed</c>, <c>/v2/rerank</c>; bearer auth; <c>BaseUrl</c> defaults to https://api.cohere.com.</summary>
    Cohere,
}

/// <summary>How a model chooses among its deployments.</summary>
public enum RoutingMode
{
    Priority,
    Weighted,
    Latency,
    Cost,
    Hybrid,

    /// <summary>Chosen per request by the optimizer (an <see cref="Routing.IAutoRouter"/>); by price, cheapest first, without one.</summary>
    Auto,
}

/// <summary>What a model serves.</summary>
public enum ModelKind
{
    Chat,
    Embedding,

    /// <summary>Scores documents against a query (<c>POST /v1/rerank</c>).</summary>
    Rerank,

    /// <summary>Classifies text (<c>POST /v1/moderations</c>).</summary>
    Moderation,

    /// <summary>Generates images (<c>POST /v1/images/generations</c>).</summary>
    Image,

    /// <summary>Turns audio into text (<c>POST /v1/audio/transcriptions</c>).</summary>
    Transcription,

    /// <summary>Turns text into audio (<c>POST /v1/audio/speech</c>).</summary>
    Speech,
}

/// <summary>One upstream provider from the <c>Providers</c> section.</summary>
public sealed record ProviderConfig(
    string Name,
    ProviderType Type,
    Uri BaseUrl,
    string? ApiKey,
    string? ApiVersion,
    IReadOnlyDictionary<string, string> Headers,
    TimeSpan ConnectTimeout,
    TimeSpan FirstByteTimeout,
    TimeSpan TotalTimeout,
    string? Region)
{
    /// <summary>
    /// When set, every connection to this provider is checked against it after name resolution (the SSRF guard for
    /// endpoints the operator did not choose, such as a publisher's base URL); null for configured providers.
    /// </summary>
    public OutboundAddressPolicy? AddressPolicy { get; init; }

    /// <summary>
    /// <c>Responses: native</c>: this OpenAI-type provider serves <c>POST /responses</c> itself, so <c>/v1/responses</c>
    /// calls are forwarded to it as is; off by default (many OpenAI-compatible servers lack it), which translates them to chat.
    /// </summary>
    public bool NativeResponses { get; init; }

    /// <summary><c>bedrock</c>: the AWS credentials (resolved from references), or null for the default AWS credential chain.</summary>
    public AwsKeys? Aws { get; init; }

    /// <summary><c>vertex</c>: the Google Cloud project, location and credentials.</summary>
    public VertexSettings? Vertex { get; init; }
}

/// <summary>AWS access keys of a <c>bedrock</c> provider; <see cref="SessionToken"/> for temporary credentials.</summary>
public sealed record AwsKeys(string AccessKeyId, string SecretAccessKey, string? SessionToken)
{
    // Never print the secret (records print every property by default).
    public override string ToString() => $"AwsKeys {{ AccessKeyId = {AccessKeyId} }}";
}

/// <summary>
/// A <c>vertex</c> provider's project and location, and its service-account key (JSON) or null for Application Default Credentials.
/// </summary>
public sealed record VertexSettings(string Project, string Location, string? CredentialsJson)
{
    public override string ToString() => $"VertexSettings {{ Project = {Project}, Location = {Location} }}";
}

/// <summary>Prices in USD per million tokens, plus an optional fee per request.</summary>
public sealed record Pricing(decimal InputPerMTok, decimal OutputPerMTok, decimal? CachedInputPerMTok, decimal? CacheWritePerMTok, decimal PerRequest)
{
    public static readonly Pricing Free = new(0, 0, null, null, 0);

    public decimal Cost(long promptTokens, long completionTokens, long cachedTokens, long cacheWriteTokens = 0)
    {
        var uncached = Math.Max(0, promptTokens - cachedTokens - cacheWriteTokens);
        var cost = uncached * InputPerMTok
            + cachedTokens * (CachedInputPerMTok ?? InputPerMTok)
            + cacheWriteTokens * (CacheWritePerMTok ?? InputPerMTok)
            + completionTokens * OutputPerMTok;
        return cost / 1_000_000m + PerRequest;
    }

    public bool IsFree => InputPerMTok == 0 && OutputPerMTok == 0 && PerRequest == 0 && (CachedInputPerMTok ?? 0) == 0 && !HasUnitPrices;

    /// <summary>USD per search unit of a rerank call (Cohere bills one per query with up to 100 documents).</summary>
    public decimal PerSearchUnit { get; init; }

    /// <summary>USD per generated image.</summary>
    public decimal PerImage { get; init; }

    /// <summary>USD per minute of transcribed audio (when the answer reports its duration).</summary>
    public decimal PerMinute { get; init; }

    /// <summary>USD per million characters of text turned into speech.</summary>
    public decimal PerMCharacters { get; init; }

    private bool HasUnitPrices => PerSearchUnit != 0 || PerImage != 0 || PerMinute != 0 || PerMCharacters != 0;
}

/// <summary>A deployment of a model on a provider.</summary>
public sealed record DeploymentConfig(
    string Id,
    string Provider,
    string UpstreamModel,
    Pricing Pricing,
    double Weight,
    string? Region);

/// <summary>Weights of the hybrid routing score.</summary>
public sealed record HybridWeights(double Cost, double Performance, double Reliability)
{
    public static readonly HybridWeights Default = new(0.4, 0.4, 0.2);
}

/// <summary>A model clients name in <c>model</c>, routed to one of its deployments.</summary>
public sealed record ModelConfig(
    string Name,
    ModelKind Kind,
    RoutingMode Routing,
    IReadOnlyList<DeploymentConfig> Deployments,
    int? ContextWindow,
    int? MaxOutputTokens,
    bool? Cache,
    double QualityTarget,
    HybridWeights Hybrid,
    string OwnedBy,
    long Created)
{
    /// <summary>Extra fields a model source adds to the model's <c>/v1/models</c> entry (for example catalog lifecycle and pricing).</summary>
    public System.Text.Json.Nodes.JsonObject? Extensions { get; init; }

    /// <summary>
    /// With <see cref="RoutingMode.Auto"/>: whether the router may cascade calls that are not streamed (ask the cheap
    /// deployment first, check its answer, escalate when the check fails). On unless <c>Cascade: false</c>.
    /// </summary>
    public bool Cascade { get; init; } = true;

    /// <summary>The model's own semantic cache settings, when it has any.</summary>
    public SemanticCacheOverride? SemanticCache { get; init; }
}

public sealed record CircuitBreakerSettings(int FailureThreshold, TimeSpan BreakDuration, int HalfOpenProbes)
{
    public static readonly CircuitBreakerSettings Default = new(5, TimeSpan.FromSeconds(60), 3);
}

public sealed record RetrySettings(int MaxAttemptsPerDeployment, TimeSpan BaseDelay, TimeSpan MaxDelay, TimeSpan MaxRetryAfter, int MaxTotalAttempts)
{
    public static readonly RetrySettings Default = new(2, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(10), 6);
}

public sealed record CacheSettings(bool Enabled, long MaxBytes, TimeSpan DefaultTtl, TimeSpan MaxTtl)
{
    public static readonly CacheSettings Default = new(false, 256L * 1024 * 1024, TimeSpan.FromMinutes(10), TimeSpan.FromDays(1));

    /// <summary>The semantic cache (<c>Gateway:Cache:Semantic</c>), consulted after an exact miss; off by default.</summary>
    public SemanticCacheSettings Semantic { get; init; } = SemanticCacheSettings.Default;
}

/// <summary>Whom a semantic cache entry serves: callers of the same team (always), or of the same API key.</summary>
public enum SemanticCacheScope
{
    Team,
    Key,
}

/// <summary>
/// The <c>Gateway:Cache:Semantic</c> section: a paraphrase of a cached question (cosine similarity of their embeddings by
/// <see cref="EmbeddingModel"/> at least <see cref="Threshold"/>, and the same numbers, names, quotes, identifiers and
/// negation) is answered from the cache.
/// </summary>
public sealed record SemanticCacheSettings(bool Enabled, string? EmbeddingModel, double Threshold, SemanticCacheScope Scope, int MaxEntries)
{
    public static readonly SemanticCacheSettings Default = new(false, null, 0.95, SemanticCacheScope.Team, 10_000);
}

/// <summary>A model's own semantic cache settings (<c>Models[i].SemanticCache</c>): off for it, or its own threshold.</summary>
public sealed record SemanticCacheOverride(bool? Enabled, double? Threshold);

/// <summary>The <c>Gateway</c> section: transport, resilience and cache settings.</summary>
public sealed record GatewaySettings(
    TimeSpan ConnectTimeout,
    TimeSpan FirstByteTimeout,
    TimeSpan TotalTimeout,
    long MaxRequestBodyBytes,
    RetrySettings Retry,
    CircuitBreakerSettings CircuitBreaker,
    CacheSettings Cache,
    double LatencyEwmaAlpha)
{
    public static readonly GatewaySettings Default = new(
        TimeSpan.FromSeconds(10),
        TimeSpan.FromSeconds(120),
        TimeSpan.FromMinutes(10),
        4L * 1024 * 1024,
        RetrySettings.Default,
        CircuitBreakerSettings.Default,
        CacheSettings.Default,
        0.2);
}

/// <summary>The validated gateway configuration.</summary>
public sealed record GatewayConfig(
    IReadOnlyList<ProviderConfig> Providers,
    IReadOnlyList<ModelConfig> Models,
    GatewaySettings Settings);
