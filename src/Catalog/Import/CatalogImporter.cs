namespace LlmMarketplace.Catalog.Import;

/// <summary>Reads model catalogs in the OpenRouter (<c>{"data": [...]}</c>) and models.dev (<c>{"providers": [...]}</c>) formats into listing specs.</summary>
public static class CatalogImporter
{
    public const string OpenRouterFormat = "openrouter";
    public const string ModelsDevFormat = "models.dev";

    /// <summary>Detects the format and reads every model; throws <see cref="InvalidDataException"/> for anything else.</summary>
    public static (string Format, IReadOnlyList<ListingSpec> Listings) Read(Stream json)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"The file is not valid JSON: {ex.Message}", ex);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Array)
            {
                return (OpenRouterFormat, data.EnumerateArray().Select(ReadOpenRouter).Where(static l => l is not null).Select(static l => l!).ToList());
            }
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("providers", out var providers) && providers.ValueKind is JsonValueKind.Array or JsonValueKind.Object)
            {
                return (ModelsDevFormat, ReadModelsDev(Members(providers)));
            }
            // models.dev's api.json itself: providers keyed by id, each with its models keyed by id.
            if (root.ValueKind == JsonValueKind.Object && root.EnumerateObject().Any()
                && root.EnumerateObject().All(static p => p.Value.ValueKind == JsonValueKind.Object && p.Value.TryGetProperty("models", out var m) && m.ValueKind == JsonValueKind.Object))
            {
                return (ModelsDevFormat, ReadModelsDev(Members(root)));
            }
            throw new InvalidDataException("Unknown catalog format: expected an OpenRouter models file ({\"data\": [...]}) or a models.dev file ({\"providers\": [...]}).");
        }
    }

    private static ListingSpec? ReadOpenRouter(JsonElement m)
    {
        var id = Str(m, "id");
        if (string.IsNullOrWhiteSpace(id)) return null;
        var name = Str(m, "name") ?? id;
        var description = Str(m, "description") ?? "";
        var publisher = id.TrimStart('~').Split('/')[0];
        var input = Strings(m, "architecture", "input_modalities");
        var output = Strings(m, "architecture", "output_modalities");
        var parameters = Strings(m, "supported_parameters");
        var pricing = m.TryGetProperty("pricing", out var p) ? p : default;
        decimal? PerM(string field) => pricing.ValueKind == JsonValueKind.Object && pricing.TryGetProperty(field, out var v)
            && decimal.TryParse(v.ValueKind == JsonValueKind.String ? v.GetString() : v.GetRawText(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d >= 0
            ? Math.Round(d * 1_000_000m, 6) : null;
        var perRequest = pricing.ValueKind == JsonValueKind.Object && pricing.TryGetProperty("request", out var r)
            && decimal.TryParse(r.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var pr) && pr > 0 ? pr : (decimal?)null;
        var kind = output.Contains("embeddings") ? ListingKinds.Embedding : ListingKinds.Chat;
        int? maxOut = m.TryGetProperty("top_provider", out var top) && top.ValueKind == JsonValueKind.Object && top.TryGetProperty("max_completion_tokens", out var mct) && mct.ValueKind == JsonValueKind.Number ? mct.GetInt32() : null;
        var listingPricing = new ListingPricing(PerM("prompt"), PerM("completion"), PerM("input_cache_read"), PerM("input_cache_write"), perRequest);
        return new ListingSpec
        {
            Slug = id,
            Version = "1.0.0",
            CanonicalId = Str(m, "canonical_slug") ?? id,
            Name = name,
            Description = description,
            Publisher = publisher,
            Category = Category(kind, output, description),
            Tags = Tags(id, name, description, input, output, parameters, listingPricing),
            Kind = kind,
            InputModalities = input,
            OutputModalities = output,
            ContextLength = m.TryGetProperty("context_length", out var ctx) && ctx.ValueKind == JsonValueKind.Number ? ctx.GetInt32() : null,
            MaxOutputTokens = maxOut,
            SupportedParameters = parameters,
            Pricing = listingPricing,
            Deployments =
            [
                new DeploymentSpec
                {
                    Provider = "openrouter",
                    Type = "openai",
                    UpstreamModel = id,
                    BaseUrl = "https://openrouter.ai/api/v1",
                    ApiKey = "env:OPENROUTER_API_KEY",
                    Pricing = listingPricing,
                },
            ],
            KnowledgeCutoff = Str(m, "knowledge_cutoff"),
            Links = Str(m, "hugging_face_id") is { Length: > 0 } hf ? new Dictionary<string, string> { ["huggingface"] = "https://huggingface.co/" + hf } : null,
            Created = m.TryGetProperty("created", out var c) && c.ValueKind == JsonValueKind.Number ? c.GetInt64() : null,
        };
    }

    /// <summary>The items of an array, or the values of an object keyed by id (models.dev's api.json keys providers and models by id).</summary>
    private static IEnumerable<JsonElement> Members(JsonElement e) => e.ValueKind == JsonValueKind.Array ? e.EnumerateArray()
        : e.ValueKind == JsonValueKind.Object ? e.EnumerateObject().Select(static p => p.Value) : [];

    private static List<ListingSpec> ReadModelsDev(IEnumerable<JsonElement> providers)
    {
        var groups = new Dictionary<string, List<(JsonElement Provider, JsonElement Model)>>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var provider in providers)
        {
            if (provider.ValueKind != JsonValueKind.Object || !provider.TryGetProperty("models", out var models)) continue;
            foreach (var model in Members(models))
            {
                var id = Str(model, "id");
                if (string.IsNullOrWhiteSpace(id)) continue;
                var key = id[(id.LastIndexOf('/') + 1)..].ToLowerInvariant();
                if (!groups.TryGetValue(key, out var list))
                {
                    groups[key] = list = [];
                    order.Add(key);
                }
                list.Add((provider, model));
            }
        }
        var result = new List<ListingSpec>(groups.Count);
        foreach (var key in order)
        {
            var entries = groups[key];
            var first = entries[0].Model;
            var name = entries.Select(static e => Str(e.Model, "name")).Where(static s => !string.IsNullOrWhiteSpace(s))
                .GroupBy(static s => s).OrderByDescending(static g => g.Count()).Select(static g => g.Key).FirstOrDefault() ?? key;
            var family = Str(first, "family");
            var input = Strings(first, "modalities", "input");
            var output = Strings(first, "modalities", "output");
            var deployments = new List<DeploymentSpec>();
            var seenProviders = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (provider, model) in entries)
            {
                var providerId = Str(provider, "id") ?? "unknown";
                if (!seenProviders.Add(providerId)) continue;
                var env = provider.TryGetProperty("env", out var e) && e.ValueKind == JsonValueKind.Array ? e.EnumerateArray().Select(static x => x.GetString()).LastOrDefault(static x => x is not null && x.EndsWith("KEY", StringComparison.Ordinal)) : null;
                deployments.Add(new DeploymentSpec
                {
                    Provider = providerId,
                    Type = "openai",
                    UpstreamModel = Str(model, "id"),
                    BaseUrl = Str(provider, "api"),
                    ApiKey = env is null ? null : "env:" + env,
                    Pricing = Cost(model),
                });
            }
            var pricing = deployments.Select(static d => d.Pricing).Where(static p => p?.InputPerMTok is not null).OrderBy(static p => p!.InputPerMTok).FirstOrDefault();
            var publisher = PublisherOf(family, entries);
            var kind = output.Contains("embeddings") || key.Contains("embed", StringComparison.Ordinal) ? ListingKinds.Embedding : ListingKinds.Chat;
            var parameters = new List<string>();
            if (Bool(first, "tool_call")) parameters.AddRange(["tools", "tool_choice"]);
            if (Bool(first, "reasoning")) parameters.Add("reasoning");
            if (Bool(first, "structured_output")) parameters.Add("structured_outputs");
            var description = $"{name} ({family ?? key}), served by {string.Join(", ", seenProviders)}." + (Bool(first, "open_weights") ? " Open weights." : "");
            var created = DateTimeOffset.TryParse(Str(first, "release_date"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var rd) ? rd.ToUnixTimeSeconds() : (long?)null;
            result.Add(new ListingSpec
            {
                Slug = key,
                Version = "1.0.0",
                CanonicalId = key,
                Name = name,
                Description = description,
                Publisher = publisher,
                Category = Category(kind, output, description),
                Tags = Tags(key, name, description, input, output, parameters, pricing),
                Kind = kind,
                InputModalities = input,
                OutputModalities = output,
                ContextLength = first.TryGetProperty("limit", out var l) && l.TryGetProperty("context", out var lc) && lc.ValueKind == JsonValueKind.Number ? (int)Math.Min(int.MaxValue, lc.GetInt64()) : null,
                MaxOutputTokens = first.TryGetProperty("limit", out var l2) && l2.TryGetProperty("output", out var lo) && lo.ValueKind == JsonValueKind.Number ? (int)Math.Min(int.MaxValue, lo.GetInt64()) : null,
                SupportedParameters = parameters,
                Pricing = pricing,
                Deployments = deployments,
                Licence = Bool(first, "open_weights") ? "open-weights" : null,
                KnowledgeCutoff = Str(first, "knowledge"),
                Created = created,
            });
        }
        return result;
    }

    private static string PublisherOf(string? family, List<(JsonElement Provider, JsonElement Model)> entries)
    {
        foreach (var (_, model) in entries)
        {
            var id = Str(model, "id")!;
            var slash = id.IndexOf('/', StringComparison.Ordinal);
            if (slash > 0) return id[..slash].ToLowerInvariant();
        }
        return (family ?? Str(entries[0].Provider, "id") ?? "unknown").ToLowerInvariant();
    }

    private static ListingPricing? Cost(JsonElement model)
    {
        if (!model.TryGetProperty("cost", out var cost) || cost.ValueKind != JsonValueKind.Object) return null;
        decimal? D(string f) => cost.TryGetProperty(f, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDecimal() : null;
        return new ListingPricing(D("input"), D("output"), D("cache_read"), D("cache_write"));
    }

    private static string Category(string kind, IReadOnlyList<string> output, string description)
    {
        if (kind == ListingKinds.Embedding) return "embeddings";
        if (output.Contains("image")) return "image-generation";
        if (output.Contains("audio")) return "audio";
        if (description.Contains("roleplay", StringComparison.OrdinalIgnoreCase) || description.Contains("role-play", StringComparison.OrdinalIgnoreCase) || description.Contains("storytelling", StringComparison.OrdinalIgnoreCase)) return "roleplay";
        if (description.Contains("coding", StringComparison.OrdinalIgnoreCase) && (description.Contains("agentic coding", StringComparison.OrdinalIgnoreCase) || description.Contains("code generation", StringComparison.OrdinalIgnoreCase) || description.Contains("coding model", StringComparison.OrdinalIgnoreCase) || description.Contains("software engineering", StringComparison.OrdinalIgnoreCase))) return "coding";
        return "text-generation";
    }

    private static List<string> Tags(string id, string name, string description, IReadOnlyList<string> input, IReadOnlyList<string> output, IReadOnlyList<string> parameters, ListingPricing? pricing)
    {
        var tags = new List<string>();
        var text = (name + " " + description).ToLowerInvariant();
        if (input.Contains("image")) tags.Add("vision");
        if (input.Contains("audio")) tags.Add("audio-input");
        if (input.Contains("video")) tags.Add("video");
        if (output.Contains("image")) tags.Add("image-generation");
        if (parameters.Contains("tools")) tags.Add("tool-use");
        if (parameters.Contains("reasoning") || parameters.Contains("include_reasoning")) tags.Add("reasoning");
        if (parameters.Contains("structured_outputs") || parameters.Contains("response_format")) tags.Add("json");
        if (id.EndsWith(":free", StringComparison.Ordinal) || (pricing is { InputPerMTok: 0, OutputPerMTok: 0 })) tags.Add("free");
        if (text.Contains("cod", StringComparison.Ordinal) && (text.Contains("coding", StringComparison.Ordinal) || text.Contains("code generation", StringComparison.Ordinal) || text.Contains("coder", StringComparison.Ordinal))) tags.Add("coding");
        if (text.Contains("roleplay", StringComparison.Ordinal) || text.Contains("role-play", StringComparison.Ordinal)) tags.Add("roleplay");
        if (text.Contains("multilingual", StringComparison.Ordinal)) tags.Add("multilingual");
        if (text.Contains("open-weight", StringComparison.Ordinal) || text.Contains("open weight", StringComparison.Ordinal) || text.Contains("open-source", StringComparison.Ordinal) || text.Contains("open source", StringComparison.Ordinal)) tags.Add("open-weights");
        if (text.Contains("mixture-of-experts", StringComparison.Ordinal) || text.Contains("mixture of experts", StringComparison.Ordinal) || text.Contains(" moe", StringComparison.Ordinal)) tags.Add("moe");
        if (text.Contains("search", StringComparison.Ordinal) && (text.Contains("web search", StringComparison.Ordinal) || text.Contains("citations", StringComparison.Ordinal))) tags.Add("web-search");
        return tags;
    }

    private static string? Str(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static bool Bool(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;

    private static List<string> Strings(JsonElement e, params string[] path)
    {
        foreach (var p in path)
        {
            if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty(p, out e)) return [];
        }
        return e.ValueKind == JsonValueKind.Array ? e.EnumerateArray().Where(static x => x.ValueKind == JsonValueKind.String).Select(static x => x.GetString()!).ToList() : [];
    }
}
