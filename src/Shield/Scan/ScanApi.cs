using System.Diagnostics;
using System.Text.Json;
using LlmMarketplace.BuildingBlocks.Validation;
using LlmMarketplace.Shield.Configuration;
using LlmMarketplace.Shield.Detection;
using LlmMarketplace.Shield.Telemetry;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace LlmMarketplace.Shield.Scan;

/// <summary>One finding: its type, its character span in the text (<c>end</c> exclusive) and a score in [0, 1].</summary>
public sealed record ScanFindingDto(string Type, int Start, int End, double Score);

/// <summary>The answer of <c>POST /api/v1/shield/scan</c>.</summary>
public sealed record ScanResponseDto(string Verdict, IReadOnlyList<ScanFindingDto> Findings, string Redacted);

/// <summary><c>POST /api/v1/shield/scan</c>: every detector over a text, with the verdict and a redacted copy.</summary>
internal static class ScanApi
{
    public static async Task<Results<Ok<ScanResponseDto>, ValidationProblem>> ScanAsync(HttpContext context, ShieldScanner scanner, ShieldSettings settings, ShieldMetrics metrics)
    {
        var errors = new ValidationErrors();
        string? text = null;
        try
        {
            using var document = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                errors.Add("$", "The body must be a JSON object: {\"text\": \"...\"}.");
            }
            else if (!root.TryGetProperty("text", out var t) || t.ValueKind == JsonValueKind.Null)
            {
                errors.Add("text", "The text to scan is required.");
            }
            else if (t.ValueKind != JsonValueKind.String)
            {
                errors.Add("text", "The text must be a string.");
            }
            else
            {
                text = t.GetString()!;
                if (text.Length > settings.MaxTextLength)
                {
                    errors.Add("text", $"The text has {text.Length} characters; the limit is {settings.MaxTextLength}.");
                }
            }
        }
        catch (JsonException ex)
        {
            errors.Add("$", $"The body is not valid JSON: {ex.Message}");
        }
        if (!errors.IsEmpty || text is null)
        {
            return TypedResults.ValidationProblem(errors.ToDictionary());
        }

        var started = Stopwatch.GetTimestamp();
        var findings = await scanner.ScanAsync(text, ScanGroups.All, context.RequestAborted);
        metrics.Scanned("api", Stopwatch.GetElapsedTime(started).TotalSeconds);
        var block = false;
        foreach (var f in findings)
        {
            var blocking = settings.BlockOn.Contains(f.Type);
            block |= blocking;
            metrics.Finding(f.Type, "api", blocking ? "block" : "none");
        }
        return TypedResults.Ok(new ScanResponseDto(
            block ? "block" : "allow",
            findings.Select(static f => new ScanFindingDto(f.Type, f.Start, f.End, f.Score)).ToList(),
            ShieldScanner.Redact(text, findings)));
    }
}
