using System.Text.Json.Nodes;
using CsCheck;
using Xunit.Abstractions;

namespace LlmMarketplace.Governance.Tests.Contract;

/// <summary>
/// The OpenAPI document is a contract: every operation it lists is called, as an admin, with inputs generated from its
/// schemas (valid ones) and with broken ones (unknown or malformed query parameters, wrong body types, invalid text,
/// a wrong media type). No answer is a 5xx, every answer's status is documented for its operation, and every broken
/// input is refused with a 4xx.
/// </summary>
public sealed class OpenApiContractTests(ITestOutputHelper output)
{
    private const int ValidSamples = 3;
    private static readonly string[] Methods = ["get", "post", "put", "delete", "patch"];

    [Fact]
    public async Task Every_operation_answers_only_documented_statuses_and_never_5xx()
    {
        await using var host = await Gov.StartAsync(overrides: new Dictionary<string, string?> { ["Management:RateLimits:Enabled"] = "false" });
        using var documentResponse = await Gov.Anonymous(host).GetAsync("openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, documentResponse.StatusCode);
        using var document = JsonDocument.Parse(await documentResponse.Content.ReadAsStringAsync());
        var root = document.RootElement;
        Assert.True(root.GetProperty("components").GetProperty("securitySchemes").TryGetProperty("bearer", out _));

        var failures = new List<string>();
        var operations = 0;
        foreach (var path in root.GetProperty("paths").EnumerateObject())
        {
            foreach (var method in path.Value.EnumerateObject().Where(static m => Methods.Contains(m.Name)))
            {
                operations++;
                var operation = new Operation(root, path.Name, method.Name.ToUpperInvariant(), method.Value);
                await CheckAsync(host, operation, failures);
            }
        }
        output.WriteLine($"{operations} operations checked");
        Assert.True(operations > 50, $"only {operations} operations in the document");
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures.Distinct()));
    }

    [Fact]
    public async Task The_document_declares_security_nullability_and_errors()
    {
        await using var host = await Gov.StartAsync();
        using var response = await Gov.Anonymous(host).GetAsync("openapi/v1.json");
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = document.RootElement;
        var schemes = root.GetProperty("components").GetProperty("securitySchemes");
        Assert.Equal("bearer", schemes.GetProperty("bearer").GetProperty("scheme").GetString());
        Assert.Equal("x-api-key", schemes.GetProperty("x-api-key").GetProperty("name").GetString());
        var paths = root.GetProperty("paths");

        // Public operations say so; the others need the bearer scheme (or x-api-key on /v1/messages).
        Assert.Equal(0, paths.GetProperty("/api/v1/auth/login").GetProperty("post").GetProperty("security").GetArrayLength());
        Assert.True(paths.GetProperty("/api/v1/keys").GetProperty("get").GetProperty("security")[0].TryGetProperty("bearer", out _));
        var messages = paths.GetProperty("/v1/messages").GetProperty("post").GetProperty("security").EnumerateArray().ToList();
        Assert.Contains(messages, static r => r.TryGetProperty("x-api-key", out _));

        // Non-nullable members are not nullable, and are required where always present.
        var key = root.GetProperty("components").GetProperty("schemas").GetProperty("KeyDto");
        Assert.Equal("string", key.GetProperty("properties").GetProperty("id").GetProperty("type").GetString());
        Assert.Contains("id", key.GetProperty("required").EnumerateArray().Select(static r => r.GetString()));

        // Every management operation documents its validation problems, and its refusals when it is not public.
        foreach (var path in paths.EnumerateObject().Where(static p => p.Name.StartsWith("/api/v1", StringComparison.Ordinal)))
        {
            foreach (var operation in path.Value.EnumerateObject().Where(static m => Methods.Contains(m.Name)))
            {
                var responses = operation.Value.GetProperty("responses");
                var bad = responses.GetProperty("400").GetProperty("content").GetProperty("application/problem+json").GetProperty("schema").GetProperty("$ref").GetString();
                Assert.Equal("#/components/schemas/HttpValidationProblemDetails", bad);
                if (operation.Value.GetProperty("security").GetArrayLength() > 0)
                {
                    Assert.True(responses.TryGetProperty("401", out _), $"{operation.Name} {path.Name} has no 401");
                    Assert.True(responses.TryGetProperty("403", out _), $"{operation.Name} {path.Name} has no 403");
                }
            }
        }
        Assert.True(paths.GetProperty("/api/v1/search").GetProperty("get").GetProperty("responses").GetProperty("429").GetProperty("headers").TryGetProperty("Retry-After", out _));
        Assert.Contains(paths.GetProperty("/api/v1/usage").GetProperty("get").GetProperty("parameters").EnumerateArray(),
            static p => p.GetProperty("name").GetString() == "groupBy");
    }

    private static async Task CheckAsync(GatewayHost host, Operation operation, List<string> failures)
    {
        // Valid inputs, drawn from the schemas.
        await operation.ValidRequests().SampleAsync(async request =>
        {
            var status = await SendAsync(host, operation, request);
            if (status >= 500 || !operation.Documents(status))
            {
                failures.Add($"{operation} valid {request}: {status} (documented: {string.Join(", ", operation.Statuses)})");
            }
        }, iter: ValidSamples, threads: 1);

        // Broken inputs: each must be a documented 4xx.
        foreach (var (what, request) in operation.InvalidRequests())
        {
            var status = await SendAsync(host, operation, request);
            if (status is < 400 or >= 500 || !operation.Documents(status))
            {
                failures.Add($"{operation} {what} {request}: {status} (documented: {string.Join(", ", operation.Statuses)})");
            }
        }
    }

    private static async Task<int> SendAsync(GatewayHost host, Operation operation, Request request)
    {
        using var message = new HttpRequestMessage(new HttpMethod(operation.Method), request.Uri);
        message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", host.MasterKey);
        if (request.Body is { } body)
        {
            var content = new ByteArrayContent(body);
            content.Headers.ContentType = MediaTypeHeaderValue.Parse(request.ContentType ?? "application/json");
            message.Content = content;
        }
        using var response = await host.Client.SendAsync(message);
        await response.Content.ReadAsByteArrayAsync();
        return (int)response.StatusCode;
    }

    /// <summary>One request: its relative URI and JSON body.</summary>
    private sealed record Request(string Uri, byte[]? Body, string? ContentType = null)
    {
        public override string ToString() => Body is null ? Uri : $"{Uri} {(ContentType ?? "application/json")} {Encoding.UTF8.GetString(Body)}";
    }

    private sealed class Operation(JsonElement root, string path, string method, JsonElement operation)
    {
        public string Method { get; } = method;

        public IReadOnlyList<string> Statuses { get; } = operation.TryGetProperty("responses", out var r) ? [.. r.EnumerateObject().Select(static p => p.Name)] : [];

        private bool Management => path.StartsWith("/api/", StringComparison.Ordinal);

        private IEnumerable<JsonElement> Parameters(string location) =>
            operation.TryGetProperty("parameters", out var p) ? p.EnumerateArray().Where(x => x.GetProperty("in").GetString() == location) : [];

        private JsonElement? BodySchema =>
            operation.TryGetProperty("requestBody", out var body) && body.GetProperty("content").EnumerateObject().FirstOrDefault() is { Value.ValueKind: JsonValueKind.Object } media
                && media.Value.TryGetProperty("schema", out var schema) ? Resolve(schema) : null;

        private bool HasBody => operation.TryGetProperty("requestBody", out _);

        public bool Documents(int status) =>
            Statuses.Contains(status.ToString(System.Globalization.CultureInfo.InvariantCulture)) || Statuses.Contains($"{status / 100}XX") || Statuses.Contains("default");

        public override string ToString() => $"{Method} {path}";

        public Gen<Request> ValidRequests()
        {
            var pathGen = Parameters("path").Aggregate(Gen.Const(path), (acc, p) =>
                from prefix in acc
                from id in Gen.String[Gen.Char.AlphaNumeric, 1, 12]
                select prefix.Replace("{" + p.GetProperty("name").GetString() + "}", id, StringComparison.Ordinal));
            var queryGen = Parameters("query").Aggregate(Gen.Const(new List<string>()), (acc, p) =>
            {
                var name = p.GetProperty("name").GetString()!;
                var required = p.TryGetProperty("required", out var req) && req.GetBoolean();
                var value = Value(p.GetProperty("schema"), 0).Select(static v => v is JsonValue j && j.TryGetValue<string>(out var s) ? s : v?.ToJsonString().Trim('"') ?? "");
                return from list in acc
                       from include in required ? Gen.Const(true) : Gen.Bool
                       from v in value
                       select include && v.Length > 0 ? [.. list, $"{name}={Uri.EscapeDataString(v)}"] : list;
            });
            var bodyGen = BodySchema is { } schema ? Value(schema, 0).Select(static v => (byte[]?)Encoding.UTF8.GetBytes(v?.ToJsonString() ?? "null"))
                : Gen.Const<byte[]?>(HasBody ? "{}"u8.ToArray() : (byte[]?)null);
            return from p in pathGen
                   from q in queryGen
                   from b in bodyGen
                   select new Request(p.TrimStart('/') + (q.Count > 0 ? "?" + string.Join('&', q) : ""), b);
        }

        public IEnumerable<(string What, Request Request)> InvalidRequests()
        {
            var basePath = Parameters("path").Aggregate(path, static (acc, p) => acc.Replace("{" + p.GetProperty("name").GetString() + "}", "zz0", StringComparison.Ordinal)).TrimStart('/');
            var body = HasBody ? "{}"u8.ToArray() : null;
            if (Management)
            {
                yield return ("unknown query parameter", new Request(basePath + "?zz_unknown=1", body));
                foreach (var p in Parameters("query"))
                {
                    var schema = p.GetProperty("schema");
                    if (Types(Resolve(schema)).Any(static t => t is "integer" or "number" or "boolean") && !Types(Resolve(schema)).Contains("string"))
                    {
                        yield return ("malformed query value", new Request($"{basePath}?{p.GetProperty("name").GetString()}=not-a-value", body));
                    }
                }
            }
            if (!HasBody) yield break;
            yield return ("body of another media type", new Request(basePath, "{}"u8.ToArray(), "text/plain"));
            // Both doors check the text of a JSON body: the management API's middleware and the data plane's request door.
            yield return ("lone surrogate", new Request(basePath, Encoding.UTF8.GetBytes(LoneSurrogateBody())));
            yield return ("invalid UTF-8", new Request(basePath, [.. "{\"name\":\""u8, 0xC3, 0x28, .. "\"}"u8]));
            if (BodySchema is { } s && s.TryGetProperty("properties", out var properties))
            {
                foreach (var property in properties.EnumerateObject().Take(4))
                {
                    var types = Types(Resolve(property.Value));
                    var wrong = types.Contains("string") || types.Contains("integer") || types.Contains("number") || types.Contains("boolean") ? "{}" : types.Contains("array") ? "12" : null;
                    if (wrong is null) continue;
                    yield return ($"wrong type for {property.Name}", new Request(basePath, Encoding.UTF8.GetBytes($"{{\"{property.Name}\":{wrong}}}")));
                }
            }
        }

        private string LoneSurrogateBody()
        {
            var name = BodySchema is { } s && s.TryGetProperty("properties", out var properties)
                ? properties.EnumerateObject().FirstOrDefault(p => Types(Resolve(p.Value)).Contains("string")).Name ?? "text"
                : "text";
            return $"{{\"{name}\":\"a\\ud800b\"}}";
        }

        private JsonElement Resolve(JsonElement schema)
        {
            for (var i = 0; i < 10 && schema.TryGetProperty("$ref", out var reference); i++)
            {
                schema = root.GetProperty("components").GetProperty("schemas").GetProperty(reference.GetString()!["#/components/schemas/".Length..]);
            }
            return schema;
        }

        private static string[] Types(JsonElement schema) =>
            !schema.TryGetProperty("type", out var type) ? []
            : type.ValueKind == JsonValueKind.Array ? [.. type.EnumerateArray().Select(static t => t.GetString()!)] : [type.GetString()!];

        /// <summary>A generator of values valid by <paramref name="schema"/>.</summary>
        private Gen<JsonNode?> Value(JsonElement schema, int depth)
        {
            schema = Resolve(schema);
            if (schema.TryGetProperty("enum", out var values))
            {
                JsonNode?[] choices = [.. values.EnumerateArray().Select(static v => JsonNode.Parse(v.GetRawText()))];
                return Gen.Int[0, choices.Length - 1].Select(i => choices[i]?.DeepClone());
            }
            foreach (var keyword in new[] { "oneOf", "anyOf", "allOf" })
            {
                if (schema.TryGetProperty(keyword, out var options)) return Value(options.EnumerateArray().First(o => !Types(Resolve(o)).SequenceEqual(["null"])), depth);
            }
            var types = Types(schema);
            var type = types.FirstOrDefault(static t => t is not "null" and not "string") ?? types.FirstOrDefault(static t => t != "null") ?? "object";
            var format = schema.TryGetProperty("format", out var f) ? f.GetString() : null;
            return type switch
            {
                "string" when format == "date-time" => Gen.Int[1, 300].Select(static d => (JsonNode?)JsonValue.Create(DateTimeOffset.UtcNow.AddDays(d).ToString("O"))),
                "string" => Gen.String[Gen.Char.AlphaNumeric, 1, 12].Select(static s => (JsonNode?)JsonValue.Create(s)),
                "integer" => Gen.Int[0, 100].Select(static i => (JsonNode?)JsonValue.Create(i)),
                "number" => Gen.Int[0, 1000].Select(static i => (JsonNode?)JsonValue.Create(i / 10.0)),
                "boolean" => Gen.Bool.Select(static b => (JsonNode?)JsonValue.Create(b)),
                "array" when depth < 3 && schema.TryGetProperty("items", out var items) => Value(items, depth + 1).List[0, 2].Select(static l => (JsonNode?)new JsonArray([.. l])),
                "array" => Gen.Const<JsonNode?>(new JsonArray()),
                _ => Object(schema, depth),
            };
        }

        private Gen<JsonNode?> Object(JsonElement schema, int depth)
        {
            if (depth >= 3 || !schema.TryGetProperty("properties", out var properties)) return Gen.Const<JsonNode?>(new JsonObject());
            var required = schema.TryGetProperty("required", out var r) ? r.EnumerateArray().Select(static x => x.GetString()).ToHashSet() : [];
            return properties.EnumerateObject().Aggregate(Gen.Const(new List<KeyValuePair<string, JsonNode?>>()), (acc, property) =>
                from list in acc
                from include in required.Contains(property.Name) ? Gen.Const(true) : Gen.Bool
                from value in Value(property.Value, depth + 1)
                select include ? [.. list, new KeyValuePair<string, JsonNode?>(property.Name, value)] : list)
                .Select(static list => (JsonNode?)new JsonObject(list));
        }
    }
}
