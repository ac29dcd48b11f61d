using System.Text.Json.Nodes;
using CsCheck;

namespace LlmMarketplace.Gateway.Tests.Validation;

/// <summary>
/// Generated good and bad bodies (CsCheck) posted to every generative API of the real host over loopback, with a
/// Kestrel fake upstream: never a 5xx; every 4xx in the API's own envelope with a message; every valid body a 200.
/// </summary>
public sealed class GeneratedBodiesTests(GeneratedBodiesTests.Fixture fixture) : IClassFixture<GeneratedBodiesTests.Fixture>
{
    private const int Iterations = 200;

    /// <summary>Text that is always valid (no surrogates), including what JSON must escape.</summary>
    private const string SafeChars = "abcdefghijklmnopqrstuvwxyz ABCXYZ0123456789.,;:!?éüßñ漢字\"\\/\n\t{}[]";

    private const string LoneSurrogate = "__LONE_SURROGATE__";
    private const string InvalidBytes = "__INVALID_BYTES__";

    public sealed class Fixture : IAsyncLifetime
    {
        public FakeUpstream Upstream { get; private set; } = null!;

        public GatewayHost Host { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            Upstream = await FakeUpstream.StartAsync(OpenAIFake.AnswerAsync);
            Host = await GatewayHost.StartAsync(Configs.DataPlane(Upstream.BaseUrl, maxRequestBodyBytes: 65536) + """

                  - Name: reranker
                    Kind: rerank
                    Deployments:
                      - Provider: upstream
                        Model: rr
                  - Name: moderation
                    Kind: moderation
                    Deployments:
                      - Provider: upstream
                        Model: mod
                  - Name: image
                    Kind: image
                    Deployments:
                      - Provider: upstream
                        Model: img
                  - Name: tts
                    Kind: speech
                    Deployments:
                      - Provider: upstream
                        Model: tts
                  - Name: whisper
                    Kind: transcription
                    Deployments:
                      - Provider: upstream
                        Model: whisper-1
                """);
        }

        public async Task DisposeAsync()
        {
            await Host.DisposeAsync();
            await Upstream.DisposeAsync();
        }
    }

    /// <summary>Reads generated numbers in turn, so a body is a pure function of what CsCheck generated (and shrinks with it).</summary>
    private sealed class Picks(int[] values)
    {
        private int _next;

        public int Next(int bound) => bound <= 1 ? 0 : values[_next++ % values.Length] % bound;

        public bool Chance(int percent) => Next(100) < percent;

        public string Text(int min = 1, int max = 12)
        {
            var length = min + Next(max - min + 1);
            var sb = new StringBuilder(length);
            for (var i = 0; i < length; i++) sb.Append(SafeChars[Next(SafeChars.Length)]);
            return sb.ToString();
        }

        /// <summary>A JSON value of any kind, including text the gateway must refuse.</summary>
        public JsonNode? AnyValue(int depth = 0) => Next(12) switch
        {
            0 => Text(0),
            1 => Next(1000),
            2 => Chance(50) ? -Next(1000) - 1 : 1e300,
            3 => Next(1000) / 7.0,
            4 => Chance(50),
            5 => null,
            6 => new JsonArray(),
            7 => depth > 1 ? new JsonArray() : new JsonArray(AnyValue(depth + 1), AnyValue(depth + 1)),
            8 => new JsonObject(),
            9 => depth > 1 ? new JsonObject() : new JsonObject { [Text()] = AnyValue(depth + 1), ["type"] = Text() },
            10 => "x" + LoneSurrogate,
            _ => InvalidBytes + "y",
        };
    }

    private sealed record Api(string Path, bool Anthropic, Func<Picks, JsonObject> Valid, string[] Fields);

    private static readonly Api[] Apis =
    [
        new("v1/chat/completions", false, static p =>
        {
            var body = new JsonObject
            {
                ["model"] = "gpt-4o-mini",
                ["messages"] = new JsonArray(
                    new JsonObject { ["role"] = "system", ["content"] = p.Text() },
                    new JsonObject { ["role"] = "user", ["content"] = p.Chance(50) ? p.Text() : new JsonArray(new JsonObject { ["type"] = "text", ["text"] = p.Text() }) }),
            };
            if (p.Chance(40)) body["temperature"] = p.Next(200) / 100.0;
            if (p.Chance(40)) body["max_tokens"] = 1 + p.Next(100);
            if (p.Chance(40)) body["stream"] = p.Chance(50);
            if (p.Chance(30)) body["stop"] = p.Chance(50) ? p.Text() : new JsonArray(p.Text());
            if (p.Chance(30)) body["user"] = p.Text();
            return body;
        }, ["model", "messages", "messages[0]", "messages[1].role", "messages[1].content", "messages[1].content[0]", "temperature", "top_p", "max_tokens",
            "n", "stream", "stop", "user", "tools", "tool_choice", "stream_options", "response_format", "seed", "logprobs", "provider"]),
        new("v1/embeddings", false, static p => new JsonObject
        {
            ["model"] = "text-embedding-3-small",
            ["input"] = p.Chance(50) ? p.Text() : new JsonArray(p.Text(), p.Text()),
        }, ["model", "input", "input[0]", "encoding_format", "dimensions", "user", "provider"]),
        new("v1/responses", false, static p =>
        {
            var body = new JsonObject
            {
                ["model"] = "gpt-4o-mini",
                ["input"] = p.Chance(50) ? p.Text() : new JsonArray(new JsonObject { ["role"] = "user", ["content"] = p.Text() }),
                ["store"] = false,
            };
            if (p.Chance(40)) body["instructions"] = p.Text();
            if (p.Chance(40)) body["max_output_tokens"] = 1 + p.Next(100);
            if (p.Chance(40)) body["stream"] = p.Chance(50);
            if (p.Chance(30)) body["temperature"] = p.Next(200) / 100.0;
            return body;
        }, ["model", "input", "input[0]", "input[0].role", "input[0].content", "input[0].type", "instructions", "max_output_tokens", "temperature", "stream",
            "store", "tools", "tool_choice", "text", "metadata", "previous_response_id", "reasoning"]),
        new("v1/messages", true, static p =>
        {
            var body = new JsonObject
            {
                ["model"] = "gpt-4o-mini",
                ["max_tokens"] = 1 + p.Next(100),
                ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = p.Chance(50) ? p.Text() : new JsonArray(new JsonObject { ["type"] = "text", ["text"] = p.Text() }) }),
            };
            if (p.Chance(40)) body["system"] = p.Text();
            if (p.Chance(40)) body["stream"] = p.Chance(50);
            if (p.Chance(30)) body["temperature"] = p.Next(100) / 100.0;
            if (p.Chance(30)) body["stop_sequences"] = new JsonArray(p.Text());
            return body;
        }, ["model", "max_tokens", "messages", "messages[0]", "messages[0].role", "messages[0].content", "messages[0].content[0]", "system", "stream",
            "temperature", "top_k", "stop_sequences", "tools", "tool_choice", "metadata", "thinking"]),
        new("v1/rerank", false, static p =>
        {
            var body = new JsonObject
            {
                ["model"] = "reranker",
                ["query"] = p.Text(),
                ["documents"] = new JsonArray(p.Text(), new JsonObject { ["text"] = p.Text() }),
            };
            if (p.Chance(40)) body["top_n"] = 1 + p.Next(3);
            if (p.Chance(40)) body["return_documents"] = p.Chance(50);
            return body;
        }, ["model", "query", "documents", "documents[0]", "documents[1]", "documents[1].text", "top_n", "return_documents", "max_tokens_per_doc", "user", "provider"]),
        new("v1/moderations", false, static p => new JsonObject
        {
            ["model"] = "moderation",
            ["input"] = p.Chance(50) ? p.Text() : new JsonArray(p.Text(), new JsonObject { ["type"] = "text", ["text"] = p.Text() }),
        }, ["model", "input", "input[0]", "input[1]", "input[1].type", "input[1].text", "user", "provider"]),
        new("v1/images/generations", false, static p =>
        {
            var body = new JsonObject { ["model"] = "image", ["prompt"] = p.Text() };
            if (p.Chance(40)) body["n"] = 1 + p.Next(4);
            if (p.Chance(30)) body["size"] = "1024x1024";
            if (p.Chance(30)) body["response_format"] = p.Chance(50) ? "url" : "b64_json";
            return body;
        }, ["model", "prompt", "n", "size", "quality", "style", "response_format", "output_format", "background", "stream", "user", "provider"]),
        new("v1/audio/speech", false, static p =>
        {
            var body = new JsonObject { ["model"] = "tts", ["input"] = p.Text(), ["voice"] = p.Chance(50) ? "alloy" : new JsonObject { ["id"] = "voice_1" } };
            if (p.Chance(30)) body["response_format"] = "wav";
            if (p.Chance(30)) body["speed"] = 0.25 + (p.Next(375) / 100.0);
            return body;
        }, ["model", "input", "voice", "voice.id", "response_format", "speed", "instructions", "stream_format", "user", "provider"]),
    ];

    public static TheoryData<int> ApiIndexes => [0, 1, 2, 3, 4, 5, 6, 7];

    [Theory]
    [MemberData(nameof(ApiIndexes))]
    public async Task Generated_bodies_get_a_200_or_a_4xx_in_the_apis_envelope_never_a_5xx(int apiIndex)
    {
        var api = Apis[apiIndex];
        var gen = Gen.Select(Gen.Int[0, 4], Gen.Int[0, int.MaxValue].Array[24], static (mutations, picks) => (mutations, picks));
        var valid = 0;
        await gen.SampleAsync(async sample =>
        {
            var p = new Picks(sample.picks);
            var body = api.Valid(p);
            // Half the samples stay valid; the others get 1 to 4 mutations (some of which happen to stay valid).
            var mutations = sample.mutations == 0 || p.Chance(40) ? 0 : sample.mutations;
            var bytes = Mutate(body, mutations, api.Fields, p);
            if (mutations == 0) Interlocked.Increment(ref valid);
            await AssertAnswerAsync(api, bytes, expectOk: mutations == 0);
        }, iter: Iterations, threads: 2, print: static s => string.Join(",", s.picks) + " mutations " + s.mutations);
        Assert.True(valid > Iterations / 10, $"only {valid} valid bodies were generated");
    }

    private static readonly Api Transcriptions = new("v1/audio/transcriptions", false, static _ => new JsonObject(), []);

    /// <summary>One part of a generated multipart form: its headers' values as sent (null: header left out) and its content.</summary>
    private sealed record Part(string? Disposition, string? ContentType, byte[] Content);

    /// <summary>
    /// Generated multipart forms posted to <c>/v1/audio/transcriptions</c>: a valid form (a model, an audio file, some of
    /// the optional fields), or one broken in 1 to 4 ways: the file or the model missing, a file where a text field goes,
    /// fields of the wrong type, huge or odd file names, parts without a usable Content-Disposition, a wrong or missing
    /// content type or boundary, a body cut short, bytes that are no form at all, a file over the body limit. Never a
    /// 5xx; every refusal in OpenAI's error envelope exactly; every valid form a 200.
    /// </summary>
    [Fact]
    public async Task Generated_transcription_forms_get_a_200_or_a_4xx_in_openais_envelope_never_a_5xx()
    {
        var gen = Gen.Select(Gen.Int[0, 4], Gen.Int[0, int.MaxValue].Array[32], static (mutations, picks) => (mutations, picks));
        var valid = 0;
        await gen.SampleAsync(async sample =>
        {
            var p = new Picks(sample.picks);
            var mutations = sample.mutations == 0 || p.Chance(40) ? 0 : sample.mutations;
            if (mutations == 0) Interlocked.Increment(ref valid);
            var (contentType, body) = TranscriptionForm(p, mutations);
            using var request = new HttpRequestMessage(HttpMethod.Post, Transcriptions.Path) { Content = new ByteArrayContent(body) };
            if (contentType is not null) Assert.True(request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType), contentType);
            using var response = await fixture.Host.Client.SendAsync(request);
            var sent = $"Content-Type: {contentType ?? "(none)"}\n" + Encoding.UTF8.GetString(body[..Math.Min(body.Length, 2000)]);
            await AssertAnswerAsync(Transcriptions, response, sent, expectOk: mutations == 0);
        }, iter: Iterations, threads: 2, print: static s => string.Join(",", s.picks) + " mutations " + s.mutations);
        Assert.True(valid > Iterations / 10, $"only {valid} valid forms were generated");
    }

    /// <summary>A transcription form (its content type and bytes), valid or broken by <paramref name="mutations"/> changes.</summary>
    private static (string? ContentType, byte[] Body) TranscriptionForm(Picks p, int mutations)
    {
        static string Field(string name) => $"form-data; name=\"{name}\"";
        var audio = Encoding.ASCII.GetBytes("RIFF....WAVEfmt " + p.Text(1, 40));
        var parts = new List<Part>
        {
            new(Field("model"), null, Encoding.UTF8.GetBytes("whisper")),
            new($"form-data; name=\"file\"; filename=\"{(p.Chance(50) ? "speech.wav" : "a b.mp3")}\"", p.Chance(50) ? "audio/wav" : null, audio),
        };
        if (p.Chance(40)) parts.Add(new(Field("response_format"), null, Encoding.UTF8.GetBytes(new[] { "json", "text", "srt", "verbose_json", "vtt" }[p.Next(5)])));
        if (p.Chance(30)) parts.Add(new(Field("temperature"), null, Encoding.UTF8.GetBytes((p.Next(101) / 100.0).ToString(System.Globalization.CultureInfo.InvariantCulture))));
        if (p.Chance(30)) parts.Add(new(Field("language"), null, "en"u8.ToArray()));
        if (p.Chance(30)) parts.Add(new(Field("prompt"), null, Encoding.UTF8.GetBytes(p.Text())));
        if (p.Chance(20)) parts.Reverse();

        var boundary = "----gen" + p.Next(1_000_000);
        string? contentType = "multipart/form-data; boundary=" + boundary;
        var truncate = false;
        byte[]? replaced = null;
        for (var i = 0; i < mutations; i++)
        {
            var at = p.Next(parts.Count);
            switch (p.Next(16))
            {
                case 0:
                    parts.RemoveAll(static part => part.Disposition?.Contains("name=\"file\"", StringComparison.Ordinal) == true);
                    break;
                case 1:
                    parts.RemoveAll(static part => part.Disposition == "form-data; name=\"model\"");
                    break;
                case 2:
                    // A file where a text field goes.
                    parts.Add(new("form-data; name=\"model\"; filename=\"model.txt\"", "text/plain", "whisper"u8.ToArray()));
                    break;
                case 3:
                    // Text fields of the wrong type or value.
                    parts.Add(new(Field(new[] { "temperature", "response_format", "stream", "model", "timestamp_granularities[]" }[p.Next(5)]), null,
                        Encoding.UTF8.GetBytes(new[] { "", "true", "2.5", "-1", "NaN", "{\"a\":1}", "yaml", p.Text() }[p.Next(8)])));
                    break;
                case 4:
                    parts[at] = parts[at] with { Disposition = parts[at].Disposition + "; filename=\"" + new string('a', 1 + p.Next(20_000)) + ".wav\"" };
                    break;
                case 5:
                    // Odd file names: quotes, backslashes, control characters, non-ASCII, a path, an RFC 5987 name, none at all.
                    var name = new[] { p.Text(0, 30), "../../etc/passwd", "x\\\"y.wav", "\u0001\u007f.wav", "漢字 ü.wav", "", "a\tb.wav" }[p.Next(7)];
                    var disposition = p.Chance(30)
                        ? "form-data; name=\"file\"; filename*=UTF-8''" + Uri.EscapeDataString(name)
                        : $"form-data; name=\"file\"; filename=\"{name}\"";
                    parts.RemoveAll(static part => part.Disposition?.Contains("name=\"file\"", StringComparison.Ordinal) == true);
                    parts.Add(new(disposition, p.Chance(50) ? "audio/wav" : null, audio));
                    break;
                case 6:
                    parts[at] = parts[at] with { Disposition = new[] { null, "attachment; name=\"x\"", "form-data", "form-data; name=\"\"", "form-data; name=", ";;;", p.Text() }[p.Next(7)] };
                    break;
                case 7:
                    // Wrong content types on a part.
                    parts[at] = parts[at] with { ContentType = new[] { "application/json", "text/plain; charset=bogus", "multipart/mixed", "", "audio/", "\"", p.Text() }[p.Next(7)] };
                    break;
                case 8:
                    contentType = new[] { null, "application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/mixed; boundary=" + boundary, "multipart/form-data" }[p.Next(6)];
                    break;
                case 9:
                    contentType = "multipart/form-data; boundary=" + new[] { "other", new string('b', 201 + p.Next(100)), "\"\"", "\"" + boundary + "\"", boundary + "x" }[p.Next(5)];
                    break;
                case 10:
                    truncate = true;
                    break;
                case 11:
                    replaced = p.Chance(50) ? Encoding.UTF8.GetBytes("{\"model\":\"whisper\",\"file\":\"" + p.Text() + "\"}") : [.. Enumerable.Range(0, p.Next(200)).Select(_ => (byte)p.Next(256))];
                    break;
                case 12:
                    // Over the body limit.
                    parts.Add(new(Field("prompt"), null, new byte[70_000]));
                    break;
                case 13:
                    // An empty audio file.
                    parts.RemoveAll(static part => part.Disposition?.Contains("name=\"file\"", StringComparison.Ordinal) == true);
                    parts.Add(new("form-data; name=\"file\"; filename=\"empty.wav\"", "audio/wav", []));
                    break;
                case 14:
                    // Invalid UTF-8 in a text field.
                    parts.Add(new(Field("prompt"), null, [0xC3, 0x28, 0xFF]));
                    break;
                default:
                    parts.Add(new(Field(p.Text(1, 8)), null, Encoding.UTF8.GetBytes(p.Text(0))));
                    break;
            }
        }
        if (replaced is not null) return (contentType, replaced);

        using var body = new MemoryStream();
        void Write(string text) => body.Write(Encoding.UTF8.GetBytes(text));
        foreach (var part in parts)
        {
            Write($"--{boundary}\r\n");
            if (part.Disposition is not null) Write($"Content-Disposition: {part.Disposition}\r\n");
            if (part.ContentType is not null) Write($"Content-Type: {part.ContentType}\r\n");
            Write("\r\n");
            body.Write(part.Content);
            Write("\r\n");
        }
        Write($"--{boundary}--\r\n");
        var bytes = body.ToArray();
        return (contentType, truncate ? bytes[..(bytes.Length * 2 / 3)] : bytes);
    }

    /// <summary>Applies mutations (set a field to any value, remove it, break the text or the JSON) and serializes.</summary>
    private static byte[] Mutate(JsonObject body, int mutations, string[] fields, Picks p)
    {
        var truncate = false;
        for (var i = 0; i < mutations; i++)
        {
            switch (p.Next(10))
            {
                case 0:
                    Remove(body, fields[p.Next(fields.Length)]);
                    break;
                case 1:
                    truncate = true;
                    break;
                default:
                    Set(body, fields[p.Next(fields.Length)], p.AnyValue());
                    break;
            }
        }
        var json = body.ToJsonString(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping })
            .Replace(LoneSurrogate, "\\ud800", StringComparison.Ordinal);
        var bytes = Encoding.UTF8.GetBytes(json);
        var marker = Encoding.UTF8.GetBytes(InvalidBytes);
        for (var at = bytes.AsSpan().IndexOf(marker); at >= 0; at = bytes.AsSpan().IndexOf(marker))
        {
            bytes = [.. bytes[..at], 0xC3, 0x28, .. bytes[(at + marker.Length)..]];
        }
        return truncate ? bytes[..(bytes.Length * 2 / 3)] : bytes;
    }

    private static (JsonNode? Parent, string? Name, int Index) Locate(JsonObject body, string path)
    {
        JsonNode? parent = null;
        JsonNode? current = body;
        string? name = null;
        var index = -1;
        foreach (var segment in path.Split('.'))
        {
            var bracket = segment.IndexOf('[', StringComparison.Ordinal);
            var key = bracket < 0 ? segment : segment[..bracket];
            if (current is not JsonObject obj) return default;
            parent = obj;
            name = key;
            index = -1;
            current = obj[key];
            if (bracket >= 0)
            {
                if (current is not JsonArray array) return default;
                index = int.Parse(segment[(bracket + 1)..^1], System.Globalization.CultureInfo.InvariantCulture);
                if (index >= array.Count) return default;
                parent = array;
                current = array[index];
            }
        }
        return (parent, name, index);
    }

    private static void Set(JsonObject body, string path, JsonNode? value)
    {
        switch (Locate(body, path))
        {
            case (JsonArray array, _, >= 0 and var i):
                array[i] = value;
                break;
            case (JsonObject obj, { } name, _):
                obj[name] = value;
                break;
        }
    }

    private static void Remove(JsonObject body, string path)
    {
        switch (Locate(body, path))
        {
            case (JsonArray array, _, >= 0 and var i):
                array.RemoveAt(i);
                break;
            case (JsonObject obj, { } name, _):
                obj.Remove(name);
                break;
        }
    }

    private async Task AssertAnswerAsync(Api api, byte[] body, bool expectOk)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, api.Path) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var response = await fixture.Host.Client.SendAsync(request);
        await AssertAnswerAsync(api, response, Encoding.UTF8.GetString(body), expectOk);
    }

    private static async Task AssertAnswerAsync(Api api, HttpResponseMessage response, string sent, bool expectOk)
    {
        var text = await response.Content.ReadAsStringAsync();
        var status = (int)response.StatusCode;
        Assert.True(status < 500, $"{api.Path} answered {status} to {sent}: {text}");
        if (expectOk)
        {
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{api.Path} refused a valid body with {status}: {sent} -> {text}");
        }
        if (status < 400)
        {
            if (response.Content.Headers.ContentType?.MediaType == "text/event-stream")
            {
                // A stream that ends in an error event instead of its end would be a failure too.
                Assert.DoesNotContain("event: error", text, StringComparison.Ordinal);
                Assert.DoesNotContain("data: {\"error\"", text, StringComparison.Ordinal);
                Assert.DoesNotContain("response.failed", text, StringComparison.Ordinal);
            }
            return;
        }
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var root = JsonDocument.Parse(text).RootElement;
        if (api.Anthropic)
        {
            Assert.Equal(["type", "error"], root.EnumerateObject().Select(static p => p.Name).ToArray());
            Assert.Equal(["type", "message"], root.GetProperty("error").EnumerateObject().Select(static p => p.Name).ToArray());
            Assert.False(string.IsNullOrWhiteSpace(root.GetProperty("error").GetProperty("message").GetString()), text);
        }
        else
        {
            Assert.Equal("error", Assert.Single(root.EnumerateObject()).Name);
            var error = root.GetProperty("error");
            Assert.Equal(["message", "type", "param", "code"], error.EnumerateObject().Select(static p => p.Name).ToArray());
            Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()), text);
        }
    }
}
