using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmMarketplace.Gateway.Pipeline;
using LlmMarketplace.Shield.Configuration;
using LlmMarketplace.Shield.Detection;
using LlmMarketplace.Shield.Telemetry;
using Microsoft.Extensions.Logging;

namespace LlmMarketplace.Shield.Inline;

/// <summary>
/// The shield on the gateway path. Before the call it scans every text people wrote in the request, as the operation
/// declares them (<see cref="GatewayCall.PromptTexts"/>: chat messages, embeddings and moderation inputs, image prompts,
/// rerank queries and documents, speech inputs; injection in those a model takes as instructions, personal data and
/// secrets in all) and, per the modes of the call's scope, monitors, redacts (the gateway then forwards the rewritten
/// body) or blocks. After a non-streamed completion it scans the answer for
/// personal data and secrets the same way; a streamed answer is scanned as it passes (<see cref="FilterStream"/>).
/// </summary>
internal sealed class ShieldInterceptor(
    ShieldScanner scanner,
    IShieldModeResolver resolver,
    ShieldSettings settings,
    ShieldMetrics metrics,
    ILogger<ShieldInterceptor> logger) : IGatewayInterceptor
{
    public GatewayStage Stage => GatewayStage.Content;

    public const string BlockedCode = "content_blocked";
    public const string PolicyBlockedCode = "content_blocked_by_policy";

    public ValueTask<GatewayRejection?> BeforeAsync(GatewayCall call, CancellationToken cancellationToken)
    {
        if (call.Request.ValueKind != JsonValueKind.Object) return ValueTask.FromResult<GatewayRejection?>(null);
        var modes = resolver.Resolve(call);
        if (modes.AllOff) return ValueTask.FromResult<GatewayRejection?>(null);
        // The texts people wrote, as each operation declares them: chat messages, an embeddings or moderation input, an
        // image prompt, a rerank query and documents, a speech input. One scan for all of them, whatever the operation.
        var texts = call.PromptTexts();
        if (texts.Count == 0) return ValueTask.FromResult<GatewayRejection?>(null);
        if (modes.BlockedTerms.Count > 0 && BlockListRejection(call, texts, modes) is { } refused) return ValueTask.FromResult<GatewayRejection?>(refused);
        return ScanPromptAsync(call, texts, modes, cancellationToken);
    }

    /// <summary>
    /// Every text in one scan (one embedding batch for the classifier), then the strongest action. Injection is looked for
    /// in texts a model takes as instructions (a user's or a tool's message, an image prompt); personal data and secrets in all.
    /// </summary>
    private async ValueTask<GatewayRejection?> ScanPromptAsync(GatewayCall call, IReadOnlyList<PromptText> texts, ShieldModes modes, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var scannedTexts = new List<PromptText>();
        var items = new List<ScanItem>();
        foreach (var text in texts)
        {
            var groups = new ScanGroups(modes.Injection != ShieldMode.Off && text.Instructions, modes.Pii != ShieldMode.Off, modes.Secrets != ShieldMode.Off);
            if (!groups.Any) continue;
            scannedTexts.Add(text);
            items.Add(new ScanItem(text.Text, groups));
        }
        var results = await scanner.ScanAsync(items, cancellationToken);
        var scanned = new List<(PromptText Text, List<Finding> Findings)>();
        for (var i = 0; i < results.Length; i++)
        {
            if (results[i].Count > 0) scanned.Add((scannedTexts[i], results[i]));
        }
        metrics.Scanned("prompt", Stopwatch.GetElapsedTime(started).TotalSeconds);
        if (scanned.Count == 0) return null;

        var all = scanned.SelectMany(static s => s.Findings).ToList();
        var action = Decide(all, modes);
        Record(call, "prompt", all, modes, action);
        if (action == ShieldMode.Block)
        {
            var blocked = scanned.First(s => s.Findings.Any(f => modes.For(FindingTypes.GroupOf(f.Type)) == ShieldMode.Block));
            return Rejection("request", all, modes) with { Param = blocked.Text.Param };
        }
        if (action == ShieldMode.Redact)
        {
            call.ReplacePromptTexts(scanned
                .Select(s => (s.Text, Redactable: s.Findings.Where(f => modes.For(FindingTypes.GroupOf(f.Type)) == ShieldMode.Redact).ToList()))
                .Where(static s => s.Redactable.Count > 0)
                .Select(static s => (s.Text, ShieldScanner.Redact(s.Text.Text, s.Redactable))));
        }
        return null;
    }

    /// <summary>
    /// A policy's content block list: any text of the request containing a listed term, case-insensitively, refuses the
    /// call with 403 naming the policy (never the text).
    /// </summary>
    private GatewayRejection? BlockListRejection(GatewayCall call, IReadOnlyList<PromptText> texts, ShieldModes modes)
    {
        foreach (var term in modes.BlockedTerms)
        {
            foreach (var text in texts)
            {
                if (text.Text.Contains(term.Term, StringComparison.OrdinalIgnoreCase))
                {
                    metrics.Finding(FindingTypes.BlockedTerm, "prompt", "block");
                    Log.Findings(logger, "prompt", call.RequestId, call.Model, FindingTypes.BlockedTerm, "block");
                    return new GatewayRejection(403, $"Refused by policy: the request contains a term blocked by {term.Because}.", "permission_error", PolicyBlockedCode, text.Param);
                }
            }
        }
        return null;
    }

    public ValueTask AfterAsync(GatewayCall call, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public ValueTask<CompletionInspection> InspectCompletionAsync(GatewayCall call, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        if (!settings.ScanCompletions) return default;
        var modes = resolver.Resolve(call);
        if (modes.Pii == ShieldMode.Off && modes.Secrets == ShieldMode.Off) return default;
        var groups = new ScanGroups(false, modes.Pii != ShieldMode.Off, modes.Secrets != ShieldMode.Off);

        JsonNode? root;
        try
        {
            root = JsonNode.Parse(body.Span);
        }
        catch (JsonException)
        {
            return default;
        }
        if (root?["choices"] is not JsonArray choices) return default;

        var started = Stopwatch.GetTimestamp();
        var all = new List<Finding>();
        var redactions = new List<(JsonObject Message, string Text, List<Finding> Findings)>();
        foreach (var choice in choices)
        {
            if (choice?["message"] is JsonObject message && message["content"] is JsonValue content && content.TryGetValue<string>(out var text))
            {
                var findings = scanner.Scan(text, groups);
                if (findings.Count == 0) continue;
                all.AddRange(findings);
                redactions.Add((message, text, findings));
            }
        }
        metrics.Scanned("completion", Stopwatch.GetElapsedTime(started).TotalSeconds);
        if (all.Count == 0) return default;

        var action = Decide(all, modes);
        Record(call, "completion", all, modes, action);
        if (action == ShieldMode.Block)
        {
            return ValueTask.FromResult(new CompletionInspection(Rejection("response", all, modes), null));
        }
        if (action == ShieldMode.Redact)
        {
            foreach (var (message, text, findings) in redactions)
            {
                message["content"] = ShieldScanner.Redact(text, findings.Where(f => modes.For(FindingTypes.GroupOf(f.Type)) == ShieldMode.Redact));
            }
            return ValueTask.FromResult(new CompletionInspection(null, Serialize(root)));
        }
        return default;
    }

    /// <summary>A streamed answer is scanned for personal data and secrets as it passes, like a whole one (see <see cref="StreamShield"/>).</summary>
    public IStreamTextFilter? FilterStream(GatewayCall call)
    {
        if (!settings.ScanCompletions) return null;
        var modes = resolver.Resolve(call);
        if (modes.Pii == ShieldMode.Off && modes.Secrets == ShieldMode.Off) return null;
        return new StreamShield(this, scanner, metrics, call, modes);
    }

    /// <summary>
    /// The shield on one streamed answer: each choice's text is held until it is safe to release. The last
    /// <see cref="HoldChars"/> characters are always held (the longest span with spaces inside, an IBAN or a card
    /// number in groups, fits in them), and so is a run of non-space characters that reaches into them (an address,
    /// a key, a URL with a password may go on in the next chunk; at most <see cref="MaxRunHold"/> characters), an open
    /// PEM block until its END line, and any finding that reaches the cut. What is released is redacted per the modes; a
    /// finding in <c>block</c> ends the stream with an error event instead, before any of it is sent.
    /// </summary>
    private sealed class StreamShield(ShieldInterceptor shield, ShieldScanner scanner, ShieldMetrics metrics, GatewayCall call, ShieldModes modes) : IStreamTextFilter
    {
        public const int HoldChars = 64;
        public const int MaxRunHold = 4096;

        private readonly ScanGroups _groups = new(false, modes.Pii != ShieldMode.Off, modes.Secrets != ShieldMode.Off);
        private readonly Dictionary<int, System.Text.StringBuilder> _held = [];

        public StreamTextVerdict OnText(int choice, string text)
        {
            var held = Held(choice);
            held.Append(text);
            return Release(held, end: false);
        }

        public StreamTextVerdict OnEnd(int choice) => Release(Held(choice), end: true);

        private System.Text.StringBuilder Held(int choice)
        {
            if (!_held.TryGetValue(choice, out var held)) _held[choice] = held = new System.Text.StringBuilder();
            return held;
        }

        private StreamTextVerdict Release(System.Text.StringBuilder held, bool end)
        {
            if (held.Length == 0) return new("");
            var started = Stopwatch.GetTimestamp();
            var text = held.ToString();
            var findings = scanner.Scan(text, _groups);
            var cut = end ? text.Length : SafeCut(text, findings);
            metrics.Scanned("completion", Stopwatch.GetElapsedTime(started).TotalSeconds);
            if (cut <= 0) return new("");
            held.Remove(0, cut);
            var released = findings.Where(f => f.End <= cut).ToList();
            if (released.Count == 0) return new(text[..cut]);

            var action = Decide(released, modes);
            shield.Record(call, "completion", released, modes, action);
            return action switch
            {
                ShieldMode.Block => new("", Rejection("response", released, modes)),
                ShieldMode.Redact => new(ShieldScanner.Redact(text[..cut], released.Where(f => modes.For(FindingTypes.GroupOf(f.Type)) == ShieldMode.Redact))),
                _ => new(text[..cut]),
            };
        }

        /// <summary>How much of <paramref name="text"/> can go now: never a tail that a later chunk could turn into (part of) a finding.</summary>
        private static int SafeCut(string text, List<Finding> findings)
        {
            var cut = text.Length - HoldChars;
            if (cut <= 0) return 0;
            var run = cut;
            while (run > 0 && !char.IsWhiteSpace(text[run - 1])) run--;
            if (cut - run <= MaxRunHold) cut = run;
            var pem = text.LastIndexOf("-----BEGIN", StringComparison.Ordinal);
            if (pem >= 0 && pem < cut && text.IndexOf("-----END", pem, StringComparison.Ordinal) < 0) cut = pem;
            for (var moved = true; moved;)
            {
                moved = false;
                foreach (var f in findings)
                {
                    if (f.Start < cut && f.End > cut)
                    {
                        cut = f.Start;
                        moved = true;
                    }
                }
            }
            return cut;
        }
    }

    /// <summary>The strongest action any finding calls for: block over redact over monitor.</summary>
    private static ShieldMode Decide(List<Finding> findings, ShieldModes modes)
    {
        var action = ShieldMode.Off;
        foreach (var f in findings)
        {
            var mode = modes.For(FindingTypes.GroupOf(f.Type));
            if (mode > action) action = mode;
        }
        return action;
    }

    private void Record(GatewayCall call, string direction, List<Finding> findings, ShieldModes modes, ShieldMode action)
    {
        foreach (var f in findings)
        {
            metrics.Finding(f.Type, direction, Action(modes.For(FindingTypes.GroupOf(f.Type))));
        }
        var types = string.Join(",", findings.Select(static f => f.Type).Distinct());
        Log.Findings(logger, direction, call.RequestId, call.Model, types, Action(action));
    }

    private static string Action(ShieldMode mode) => mode switch
    {
        ShieldMode.Block => "block",
        ShieldMode.Redact => "redact",
        ShieldMode.Monitor => "monitor",
        _ => "none",
    };

    /// <summary>Names the blocking finding types only; the sensitive text is never echoed.</summary>
    private static GatewayRejection Rejection(string what, List<Finding> findings, ShieldModes modes)
    {
        var types = findings.Where(f => modes.For(FindingTypes.GroupOf(f.Type)) == ShieldMode.Block).Select(static f => f.Type).Distinct().ToList();
        var message = what == "request"
            ? $"The request was blocked by the content shield: it contains {string.Join(", ", types)}."
            : $"The response was blocked by the content shield: it contains {string.Join(", ", types)}.";
        if (modes.PiiBecause is { } because && modes.Pii == ShieldMode.Block && findings.Any(f => FindingTypes.GroupOf(f.Type) == DetectorGroup.Pii))
        {
            message = message[..^1] + $" (personal data is blocked by {because}).";
        }
        return new GatewayRejection(400, message, "invalid_request_error", BlockedCode, what == "request" ? "messages" : null);
    }

    private static byte[] Serialize(JsonNode node)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            node.WriteTo(writer);
        }
        return stream.ToArray();
    }
}
