using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace LlmMarketplace.Insights.Tests.Infrastructure;

/// <summary>
/// A webhook receiver on loopback (Kestrel) that verifies <c>x-llmm-signature</c> the way a consumer would, answers
/// 500 to the first <see cref="FailFirst"/> requests, and records the events of the requests it accepts.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private LoopbackServer? _server;
    private int _requests;

    private WebhookReceiver(string secret, int failFirst)
    {
        Secret = secret;
        FailFirst = failFirst;
    }

    public string Url => _server!.BaseUrl + "/hook";

    public string Secret { get; }

    public int FailFirst { get; }

    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Requests whose signature did not verify.</summary>
    public ConcurrentQueue<string> Rejected { get; } = new();

    /// <summary>Every accepted event (duplicates included), as JSON.</summary>
    public ConcurrentQueue<JsonElement> Events { get; } = new();

    public static async Task<WebhookReceiver> StartAsync(string secret, int failFirst)
    {
        var receiver = new WebhookReceiver(secret, failFirst);
        receiver._server = await LoopbackServer.StartAsync(app => app.MapPost("/hook", async (HttpContext context) =>
        {
            var n = Interlocked.Increment(ref receiver._requests);
            using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
            var body = await reader.ReadToEndAsync();
            if (!Verify(receiver.Secret, context.Request.Headers["x-llmm-signature"].ToString(), body))
            {
                receiver.Rejected.Enqueue(body);
                return Results.Unauthorized();
            }
            if (n <= receiver.FailFirst) return Results.StatusCode(500);
            foreach (var e in JsonDocument.Parse(body).RootElement.GetProperty("events").EnumerateArray()) receiver.Events.Enqueue(e.Clone());
            return Results.NoContent();
        }));
        return receiver;
    }

    /// <summary>Checks <c>t=UNIX,v1=HEX</c>: HMAC-SHA256 of <c>UNIX.BODY</c> under the secret, compared in constant time.</summary>
    public static bool Verify(string secret, string header, string body)
    {
        var parts = header.Split(',').Select(static p => p.Split('=', 2)).Where(static p => p.Length == 2).ToDictionary(static p => p[0], static p => p[1]);
        if (!parts.TryGetValue("t", out var t) || !parts.TryGetValue("v1", out var v1) || !long.TryParse(t, CultureInfo.InvariantCulture, out _)) return false;
        var expected = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(t + "." + body));
        byte[] given;
        try { given = Convert.FromHexString(v1); } catch (FormatException) { return false; }
        return CryptographicOperations.FixedTimeEquals(expected, given);
    }

    public ValueTask DisposeAsync() => _server!.DisposeAsync();
}
