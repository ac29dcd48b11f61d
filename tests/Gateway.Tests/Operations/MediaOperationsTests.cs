using System.ClientModel;
using System.Globalization;
using LlmMarketplace.Gateway.Tests.Providers;
using Microsoft.AspNetCore.Http;
using OpenAI;
using OpenAI.Audio;
using OpenAI.Images;
using OpenAI.Moderations;
using static LlmMarketplace.Gateway.Tests.Providers.ProviderTestKit;

namespace LlmMarketplace.Gateway.Tests.Operations;

/// <summary>The gateway in front of a fake OpenAI upstream serving moderations, images, transcriptions and speech, each priced in its unit.</summary>
public sealed class MediaFixture : ProviderFixture
{
    public const decimal ModerationPerRequest = 0.0005m;
    public const decimal PerImage = 0.04m;
    public const decimal PerMinute = 0.006m;
    public const decimal PerMCharacters = 15m;

    protected override string Prefix => "MEDIA";

    protected override string Config(string upstreamBaseUrl, string keyReference) => $"""
        {SharedGateway}
        Providers:
          - Name: openai
            Type: openai
            BaseUrl: {upstreamBaseUrl}/v1
            ApiKey: {keyReference}
        Models:
          - Name: gpt-4o-mini
            Deployments:
              - Provider: openai
                Model: gpt-4o-mini
          - Name: moderation
            Kind: moderation
            Deployments:
              - Provider: openai
                Model: omni-moderation-latest
                PerRequest: {Money(ModerationPerRequest)}
          - Name: image
            Kind: image
            Deployments:
              - Provider: openai
                Model: dall-e-3
                PerImage: {Money(PerImage)}
          - Name: whisper
            Kind: transcription
            Deployments:
              - Provider: openai
                Model: whisper-1
                PerMinute: {Money(PerMinute)}
          - Name: tts
            Kind: speech
            Deployments:
              - Provider: openai
                Model: tts-1
                PerMCharacters: {Money(PerMCharacters)}
        """;

    private static string Money(decimal value) => value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// Moderations, image generation, transcription (multipart, through the SDK's AudioClient) and speech (a binary stream
/// passed through as it arrives) on the engine against a Kestrel stand-in: each forwarded with the provider's key and the
/// upstream model, metered in its unit into the usage record, and refusing a model of another kind.
/// </summary>
public sealed class MediaOperationsTests(MediaFixture fixture) : IClassFixture<MediaFixture>
{
    private static readonly byte[] Audio = Encoding.ASCII.GetBytes("RIFF fake wave audio for the transcription test");

    private OpenAIClient Sdk(string key) =>
        new(new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = fixture.Host.OpenAIBase, NetworkTimeout = TimeSpan.FromSeconds(30) });

    private async Task<(string Id, string Secret)> KeyAsync()
    {
        using var created = await fixture.Host.Client.PostAsJsonAsync("api/v1/keys", new { name = "media-" + Guid.NewGuid().ToString("N") });
        created.EnsureSuccessStatusCode();
        using var key = JsonDocument.Parse(await created.Content.ReadAsStringAsync());
        return (key.RootElement.GetProperty("id").GetString()!, key.RootElement.GetProperty("key").GetString()!);
    }

    private async Task<JsonElement> UsageRowAsync(string keyId)
    {
        var data = JsonDocument.Parse(await fixture.Host.Client.GetStringAsync($"api/v1/usage?keyId={keyId}")).RootElement.GetProperty("data");
        return Assert.Single(data.EnumerateArray());
    }

    private bool Authorized(HttpContext ctx) => FakeUpstream.Received(ctx).Headers.GetValueOrDefault("authorization") == "Bearer " + fixture.Key.Value;

    [Fact]
    public async Task Moderations_are_forwarded_and_metered_per_request()
    {
        var seen = fixture.Answer(ctx => Authorized(ctx) && FakeUpstream.Received(ctx).PathAndQuery == "/v1/moderations"
            ? FakeUpstream.Json(ctx, """{"id":"modr-1","model":"omni-moderation-latest","results":[{"flagged":true,"categories":{"violence":true},"category_scores":{"violence":0.91}}]}""")
            : FakeUpstream.Json(ctx, """{"error":{"message":"unexpected"}}""", 400));
        var (keyId, secret) = await KeyAsync();

        ModerationResult result = await Sdk(secret).GetModerationClient("moderation").ClassifyTextAsync("I will hurt you");

        Assert.True(result.Flagged);
        Assert.True(result.Violence.Flagged);
        var sent = Assert.Single(seen);
        JsonEqual("""{"model":"omni-moderation-latest","input":"I will hurt you"}""", sent.Json);
        var row = await UsageRowAsync(keyId);
        Assert.Equal("moderation", row.GetProperty("model").GetString());
        Assert.Equal(MediaFixture.ModerationPerRequest, row.GetProperty("costUsd").GetDecimal());
    }

    [Fact]
    public async Task Images_are_forwarded_and_metered_per_image()
    {
        var seen = fixture.Answer(ctx =>
        {
            if (!Authorized(ctx) || FakeUpstream.Received(ctx).PathAndQuery != "/v1/images/generations") return FakeUpstream.Json(ctx, """{"error":{"message":"unexpected"}}""", 400);
            var n = FakeUpstream.Received(ctx).Json.GetProperty("n").GetInt32();
            var data = string.Join(",", Enumerable.Range(0, n).Select(static i => $$"""{"b64_json":"{{Convert.ToBase64String(new byte[] { 137, 80, 78, 71, (byte)i })}}","revised_prompt":"a red fox"}"""));
            return FakeUpstream.Json(ctx, $$"""{"created":1700000000,"data":[{{data}}]}""");
        });
        var (keyId, secret) = await KeyAsync();

        GeneratedImageCollection images = await Sdk(secret).GetImageClient("image").GenerateImagesAsync("a red fox", 2, new ImageGenerationOptions { ResponseFormat = GeneratedImageFormat.Bytes });

        Assert.Equal(2, images.Count);
        Assert.Equal(new byte[] { 137, 80, 78, 71, 1 }, images[1].ImageBytes.ToArray());
        var sent = Assert.Single(seen);
        Assert.Equal("dall-e-3", sent.Json.GetProperty("model").GetString());
        Assert.Equal("a red fox", sent.Json.GetProperty("prompt").GetString());
        var row = await UsageRowAsync(keyId);
        Assert.Equal(2 * MediaFixture.PerImage, row.GetProperty("costUsd").GetDecimal());
    }

    [Fact]
    public async Task Transcriptions_are_forwarded_as_multipart_and_metered_per_minute()
    {
        var seen = fixture.Answer(ctx =>
        {
            var request = FakeUpstream.Received(ctx);
            var multipart = ctx.Request.ContentType?.StartsWith("multipart/form-data; boundary=", StringComparison.Ordinal) == true;
            return Authorized(ctx) && multipart && request.PathAndQuery == "/v1/audio/transcriptions"
                ? FakeUpstream.Json(ctx, """{"task":"transcribe","language":"english","duration":90.0,"text":"Hello from the audio.","segments":[]}""")
                : FakeUpstream.Json(ctx, """{"error":{"message":"unexpected"}}""", 400);
        });
        var (keyId, secret) = await KeyAsync();

        using var audio = new MemoryStream(Audio);
        AudioTranscription transcription = await Sdk(secret).GetAudioClient("whisper").TranscribeAudioAsync(audio, "hello.wav",
            new AudioTranscriptionOptions { ResponseFormat = AudioTranscriptionFormat.Verbose, Language = "en" });

        Assert.Equal("Hello from the audio.", transcription.Text);
        Assert.Equal(TimeSpan.FromSeconds(90), transcription.Duration);
        var sent = Assert.Single(seen).Body;
        Assert.Contains("name=model", sent, StringComparison.Ordinal);
        Assert.Contains("whisper-1", sent, StringComparison.Ordinal);
        Assert.DoesNotContain("\r\nwhisper\r\n", sent, StringComparison.Ordinal);
        Assert.Contains("filename=hello.wav", sent, StringComparison.Ordinal);
        Assert.Contains(Encoding.ASCII.GetString(Audio), sent, StringComparison.Ordinal);
        Assert.Contains("verbose_json", sent, StringComparison.Ordinal);
        var row = await UsageRowAsync(keyId);
        Assert.Equal(1.5m * MediaFixture.PerMinute, row.GetProperty("costUsd").GetDecimal());
    }

    [Fact]
    public async Task A_transcription_in_text_format_is_passed_back_as_text()
    {
        fixture.Answer(static ctx =>
        {
            ctx.Response.ContentType = "text/plain; charset=utf-8";
            return ctx.Response.WriteAsync("Hello as text.\n");
        });
        var (_, secret) = await KeyAsync();

        using var audio = new MemoryStream(Audio);
        AudioTranscription transcription = await Sdk(secret).GetAudioClient("whisper").TranscribeAudioAsync(audio, "hello.wav",
            new AudioTranscriptionOptions { ResponseFormat = AudioTranscriptionFormat.Text });

        Assert.Equal("Hello as text.", transcription.Text.Trim());
    }

    [Fact]
    public async Task Speech_streams_through_as_the_upstream_writes_it_and_is_metered_per_character()
    {
        var firstSent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var seen = fixture.Answer(async ctx =>
        {
            if (!Authorized(ctx) || FakeUpstream.Received(ctx).PathAndQuery != "/v1/audio/speech")
            {
                await FakeUpstream.Json(ctx, """{"error":{"message":"unexpected"}}""", 400);
                return;
            }
            ctx.Response.ContentType = "audio/mpeg";
            await ctx.Response.Body.WriteAsync("ID3-first-frame"u8.ToArray());
            await ctx.Response.Body.FlushAsync();
            firstSent.TrySetResult();
            // The rest only once the client has read the first part: a gateway that buffered would never get here.
            await release.Task.WaitAsync(TimeSpan.FromSeconds(30));
            await ctx.Response.Body.WriteAsync("-second-frame"u8.ToArray());
        });
        var (keyId, secret) = await KeyAsync();
        const string input = "The quick brown fox jumps over the lazy dog.";
        using var client = new HttpClient { BaseAddress = fixture.Host.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/audio/speech") { Content = JsonContent.Create(new { model = "tts", input, voice = "alloy" }) };

        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("audio/mpeg", response.Content.Headers.ContentType?.MediaType);
        await using var body = await response.Content.ReadAsStreamAsync();
        var first = new byte[15];
        await body.ReadExactlyAsync(first).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("ID3-first-frame", Encoding.ASCII.GetString(first));
        release.SetResult();
        using var rest = new MemoryStream();
        await body.CopyToAsync(rest);

        Assert.Equal("-second-frame", Encoding.ASCII.GetString(rest.ToArray()));
        var sent = Assert.Single(seen);
        JsonEqual($$"""{"model":"tts-1","input":"{{input}}","voice":"alloy"}""", sent.Json);
        var expected = input.Length * MediaFixture.PerMCharacters / 1_000_000m;
        Assert.Equal(expected, DecimalHeader(response, "x-gateway-cost"));
        var row = await UsageRowAsync(keyId);
        Assert.Equal(expected, row.GetProperty("costUsd").GetDecimal());
    }

    [Fact]
    public async Task Speech_through_the_sdk_returns_the_audio_bytes()
    {
        fixture.Answer(static ctx =>
        {
            ctx.Response.ContentType = "audio/mpeg";
            return ctx.Response.Body.WriteAsync("mp3-bytes"u8.ToArray()).AsTask();
        });
        var (_, secret) = await KeyAsync();

        BinaryData audio = await Sdk(secret).GetAudioClient("tts").GenerateSpeechAsync("Hello", GeneratedSpeechVoice.Alloy);

        Assert.Equal("mp3-bytes", audio.ToString());
    }

    [Theory]
    [InlineData("v1/moderations", """{"model":"gpt-4o-mini","input":"hi"}""")]
    [InlineData("v1/images/generations", """{"model":"tts","prompt":"a fox"}""")]
    [InlineData("v1/audio/speech", """{"model":"whisper","input":"hi","voice":"alloy"}""")]
    [InlineData("v1/rerank", """{"model":"image","query":"q","documents":["a"]}""")]
    [InlineData("v1/embeddings", """{"model":"moderation","input":"hi"}""")]
    public async Task Each_operation_refuses_a_model_of_another_kind(string path, string body)
    {
        var seen = fixture.Answer(static ctx => FakeUpstream.Json(ctx, "{}"));

        using var response = await PostAsync(fixture.Host, path, body);

        var error = await ErrorEnvelopeAsync(response, 400);
        Assert.Equal("model_not_supported", error.GetProperty("code").GetString());
        Assert.Equal("model", error.GetProperty("param").GetString());
        Assert.Empty(seen);
    }

    [Fact]
    public async Task A_transcription_refuses_a_model_of_another_kind_and_a_body_that_is_not_multipart()
    {
        var seen = fixture.Answer(static ctx => FakeUpstream.Json(ctx, "{}"));
        using var form = new MultipartFormDataContent
        {
            { new StringContent("tts"), "model" },
            { new ByteArrayContent(Audio), "file", "a.wav" },
        };

        using var wrongKind = await fixture.Host.Client.PostAsync("v1/audio/transcriptions", form);
        using var json = await PostAsync(fixture.Host, "v1/audio/transcriptions", """{"model":"whisper"}""");
        using var noFile = await fixture.Host.Client.PostAsync("v1/audio/transcriptions", new MultipartFormDataContent { { new StringContent("whisper"), "model" } });

        Assert.Equal("model_not_supported", (await ErrorEnvelopeAsync(wrongKind, 400)).GetProperty("code").GetString());
        Assert.Equal("unsupported_media_type", (await ErrorEnvelopeAsync(json, 415)).GetProperty("code").GetString());
        Assert.Equal("file", (await ErrorEnvelopeAsync(noFile, 400)).GetProperty("param").GetString());
        Assert.Empty(seen);
    }

    [Fact]
    public async Task An_upstream_that_answers_malformed_json_is_a_502_not_a_500()
    {
        fixture.Answer(static ctx => FakeUpstream.Json(ctx, """{"unexpected":true}"""));

        using var moderation = await PostAsync(fixture.Host, "v1/moderations", """{"model":"moderation","input":"hi"}""");
        using var image = await PostAsync(fixture.Host, "v1/images/generations", """{"model":"image","prompt":"a fox"}""");

        await ErrorEnvelopeAsync(moderation, 502);
        await ErrorEnvelopeAsync(image, 502);
    }
}
