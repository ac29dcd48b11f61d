using System.Buffers;
using System.Globalization;
using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.Gateway.Pipeline;
using LlmMarketplace.Gateway.Providers;
using LlmMarketplace.Gateway.Routing;
using LlmMarketplace.Gateway.Streaming;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace LlmMarketplace.Gateway.Audio;

/// <summary>
/// <c>POST /v1/audio/transcriptions</c> on the <see cref="GatewayEngine"/>: OpenAI's multipart/form-data request (a
/// <c>file</c> and text fields) forwarded as multipart to OpenAI-type deployments, the answer passed back in the format
/// asked for. Metered per minute of audio at <c>PerMinute</c> when the answer reports the duration (<c>verbose_json</c>'s
/// <c>duration</c>, or <c>usage.seconds</c>), plus <c>PerRequest</c> and any tokens it reports. Never cached.
/// </summary>
internal sealed class TranscriptionsHandler(GatewayEngine engine) : JsonOperation<TranscriptionRequest>(engine, "transcriptions", ModelKind.Transcription, "audio transcription")
{
    private static readonly string[] Formats = ["json", "text", "srt", "verbose_json", "vtt"];

    public override TranscriptionRequest? Parse(ReadOnlyMemory<byte> body, out RequestError? error)
    {
        // Only a stage's rewrite comes here, as JSON; the audio is not part of it.
        error = new RequestError("A transcription request is multipart/form-data.", null);
        return null;
    }

    public override async ValueTask<(TranscriptionRequest? Request, RequestError? Error)> ParseAsync(HttpContext context, ReadOnlyMemory<byte> body)
    {
        if (!MediaTypeHeaderValue.TryParse(context.Request.ContentType, out var type) || !type.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
        {
            return (null, new RequestError("A transcription request must be multipart/form-data with a 'file' part and a 'model' field.", null, "invalid_content_type"));
        }
        var boundary = HeaderUtilities.RemoveQuotes(type.Boundary).Value;
        if (string.IsNullOrEmpty(boundary) || boundary.Length > 200)
        {
            return (null, new RequestError("The multipart/form-data content type has no valid boundary.", null, "invalid_content_type"));
        }
        var fields = new List<KeyValuePair<string, string>>();
        AudioFile? file = null;
        try
        {
            var reader = new MultipartReader(boundary, new MemoryStream(body.ToArray(), writable: false));
            while (await reader.ReadNextSectionAsync() is { } section)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)
                    || !disposition.DispositionType.Equals("form-data", StringComparison.OrdinalIgnoreCase) || string.IsNullOrEmpty(disposition.Name.Value))
                {
                    return (null, new RequestError("Every part of the form needs a Content-Disposition: form-data header with a name.", null));
                }
                var name = HeaderUtilities.RemoveQuotes(disposition.Name).Value ?? "";
                if (!IsFieldName(name))
                {
                    return (null, new RequestError("A form field's name must not be blank nor hold quotes, backslashes or control characters.", null));
                }
                using var content = new MemoryStream();
                await section.Body.CopyToAsync(content);
                if (disposition.IsFileDisposition() || name == "file")
                {
                    if (name != "file") return (null, new RequestError($"Unexpected file part '{name}': the audio goes in the 'file' part.", name));
                    var fileName = HeaderUtilities.RemoveQuotes(disposition.FileNameStar.HasValue ? disposition.FileNameStar : disposition.FileName).Value;
                    file = new AudioFile(string.IsNullOrEmpty(fileName) ? "audio" : fileName, section.ContentType ?? "application/octet-stream", content.ToArray());
                }
                else
                {
                    fields.Add(new(name, System.Text.Encoding.UTF8.GetString(content.GetBuffer(), 0, (int)content.Length)));
                }
            }
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or FormatException)
        {
            return (null, new RequestError("The multipart/form-data body could not be read: " + ex.Message, null));
        }
        if (Validate(fields, file) is { } invalid) return (null, invalid);
        return (new TranscriptionRequest(fields, file!), null);
    }

    private static RequestError? Validate(List<KeyValuePair<string, string>> fields, AudioFile? file)
    {
        string? Field(string name) => fields.LastOrDefault(f => f.Key == name).Value;
        if (Field("model") is not { Length: > 0 }) return new RequestError("you must provide a model parameter", "model");
        if (file is null || file.Content.Length == 0) return new RequestError("Missing required parameter: 'file'.", "file");
        if (Field("response_format") is { } format && !Formats.Contains(format, StringComparer.Ordinal))
        {
            return new RequestError($"Invalid value for 'response_format': expected one of {string.Join(", ", Formats.Select(static f => "'" + f + "'"))}.", "response_format", "invalid_value");
        }
        if (Field("temperature") is { } t && (!double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var temperature) || temperature < 0 || temperature > 1))
        {
            return new RequestError("Invalid 'temperature': expected a number from 0 to 1.", "temperature", "invalid_value");
        }
        if (Field("stream") is "true") return new RequestError("Streamed transcription is not supported by the gateway; omit 'stream'.", "stream", "unsupported_value");
        return null;
    }


    /// <summary>Audio has no text to count before it is transcribed.</summary>
    public override int CountPromptTokens(TranscriptionRequest request, RoutableModel model) => 0;

    public override HttpRequestMessage CreateUpstreamRequest(RoutableDeployment deployment, TranscriptionRequest request)
    {
        var form = new MultipartFormDataContent();
        foreach (var (name, value) in request.Fields)
        {
            form.Add(new StringContent(name == "model" ? deployment.Config.UpstreamModel : value), name);
        }
        var file = new ByteArrayContent(request.File.Content);
        if (System.Net.Http.Headers.MediaTypeHeaderValue.TryParse(request.File.ContentType, out var fileType)) file.Headers.ContentType = fileType;
        form.Add(file, "file", UpstreamFileName(request.File.Name));
        var message = new HttpRequestMessage(HttpMethod.Post, OpenAIUrl(deployment, "/audio/transcriptions")) { Content = form, Version = System.Net.HttpVersion.Version11 };
        Authorize(message, deployment);
        return message;
    }

    /// <summary>A field name a multipart header can carry as it is.</summary>
    private static bool IsFieldName(string name) =>
        !string.IsNullOrWhiteSpace(name) && !name.Any(static c => char.IsControl(c) || c is '"' or '\\');

    /// <summary>
    /// The audio's file name as sent upstream: the client's without a directory part, quotes or control characters
    /// (which a multipart header cannot carry safely), at most 255 characters with its extension kept (the upstream reads
    /// the audio's format from it); <c>audio</c> when nothing is left.
    /// </summary>
    internal static string UpstreamFileName(string name)
    {
        name = name[(Math.Max(name.LastIndexOf('/'), name.LastIndexOf('\\')) + 1)..];
        var clean = string.Create(name.Length, name, static (span, source) =>
        {
            for (var i = 0; i < source.Length; i++) span[i] = char.IsControl(source[i]) || source[i] == '"' ? '_' : source[i];
        }).Trim();
        const int MaxLength = 255;
        if (clean.Length > MaxLength)
        {
            var extension = Path.GetExtension(clean);
            if (extension.Length > 16) extension = "";
            var keep = MaxLength - extension.Length;
            if (char.IsHighSurrogate(clean[keep - 1])) keep--;
            clean = clean[..keep] + extension;
        }
        return clean.Length == 0 ? "audio" : clean;
    }

    public override async ValueTask<AttemptOutcome> AnswerAsync(GatewayExchange<TranscriptionRequest> exchange, RoutableDeployment deployment, HttpResponseMessage response, AttemptTimer timer, CancellationToken cancellationToken)
    {
        var (bytes, upstreamTime) = await ReadAnswerAsync(response, timer, cancellationToken);
        var contentType = ContentTypeOf(response, "application/json");
        var (usage, seconds) = ReadMeter(bytes, contentType);
        exchange.UnitCostUsd = seconds is { } s ? (decimal)s / 60m * deployment.Config.Pricing.PerMinute : 0;
        await ServeBytesAsync(exchange, deployment, usage, upstreamTime, contentType, bytes);
        return AttemptOutcome.Done;
    }

    /// <summary>
    /// The audio's duration and tokens, where the answer reports them: <c>duration</c> (verbose_json),
    /// <c>usage: {type: "duration", seconds}</c> or <c>usage: {type: "tokens", input_tokens, output_tokens}</c>.
    /// </summary>
    private static (TokenUsage Usage, double? Seconds) ReadMeter(byte[] bytes, string contentType)
    {
        if (!contentType.Contains("json", StringComparison.OrdinalIgnoreCase)) return (default, null);
        using var document = JsonDocument.Parse(bytes);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("text", out _)) throw new JsonException("A transcription answer has no text.");
        double? seconds = root.TryGetProperty("duration", out var d) && d.ValueKind == JsonValueKind.Number ? d.GetDouble() : null;
        var usage = default(TokenUsage);
        if (root.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object)
        {
            if (u.TryGetProperty("seconds", out var us) && us.ValueKind == JsonValueKind.Number) seconds ??= us.GetDouble();
            if (u.TryGetProperty("input_tokens", out _)) usage = new TokenUsage(UsageJson.Long(u, "input_tokens"), UsageJson.Long(u, "output_tokens"));
        }
        return (usage, seconds is >= 0 and < 1e7 ? seconds : null);
    }
}

/// <summary>The audio file of a transcription request.</summary>
internal sealed record AudioFile(string Name, string ContentType, byte[] Content);

/// <summary>A parsed <c>POST /v1/audio/transcriptions</c> form: its text fields (in order) and its file; a form has no <c>provider</c> routing extension.</summary>
internal sealed class TranscriptionRequest(IReadOnlyList<KeyValuePair<string, string>> fields, AudioFile file)
    : JsonBodyRequest(FieldsAsJson(fields, file), fields.Last(static f => f.Key == "model").Value, route: null)
{
    public IReadOnlyList<KeyValuePair<string, string>> Fields { get; } = fields;

    public AudioFile File { get; } = file;

    /// <summary>The text fields as JSON: what the stages, the usage record and the cache key see of the call.</summary>
    private static JsonDocument FieldsAsJson(IReadOnlyList<KeyValuePair<string, string>> fields, AudioFile file)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, JsonDefaults.WriterOptions))
        {
            writer.WriteStartObject();
            foreach (var name in fields.Select(static f => f.Key).Distinct().Where(static n => n != "file_bytes")) writer.WriteString(name, fields.Last(f => f.Key == name).Value);
            writer.WriteString("file", file.Name);
            writer.WriteNumber("file_bytes", file.Content.Length);
            writer.WriteEndObject();
        }
        return JsonDocument.Parse(buffer.WrittenMemory);
    }
}
