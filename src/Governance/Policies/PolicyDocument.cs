using System.Text.Json.Nodes;
using LlmMarketplace.Governance.Contracts;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace LlmMarketplace.Governance.Policies;

/// <summary>Data classifications, least to most sensitive.</summary>
internal static class Classifications
{
    public static readonly string[] Levels = ["public", "internal", "confidential", "restricted"];

    public static int? Rank(string? value) => value is null ? null : Array.IndexOf(Levels, value.ToLowerInvariant()) is var i and >= 0 ? i : null;
}

/// <summary>A validated policy document.</summary>
internal sealed record PolicyDocument(
    string Name, string? Description, string Scope, string? ScopeId, bool Enabled, string? Reason,
    NameRule Models, NameRule Providers, NameRule Listings, IReadOnlyList<string>? Regions, string? MaxClassification,
    IReadOnlyList<string> RequiredCertifications, IReadOnlyList<string> BlockList, PiiHandling Pii, decimal? BudgetMaxUsd, string? BudgetPeriod,
    JsonObject Json)
{
    /// <summary><c>rules.requireZeroRetention</c>: only listings that declare <c>compliance.zeroRetention: true</c> may be called.</summary>
    public bool RequireZeroRetention { get; init; }

    /// <summary>What re-evaluation does with a live listing that breaks this (global) policy: <c>report</c> or <c>suspend</c>.</summary>
    public string OnViolation { get; init; } = ViolationActions.Report;
}

/// <summary>What happens to a live listing that breaks a global policy's listing rules.</summary>
internal static class ViolationActions
{
    /// <summary>Listed as a violation; calls go on (unless the call itself is refused by the rules).</summary>
    public const string Report = "report";

    /// <summary>Listed as a violation and the listing version is refused for every caller until it complies again.</summary>
    public const string Suspend = "suspend";

    public static readonly string[] All = [Report, Suspend];
}

internal sealed record NameRule(IReadOnlyList<string> Allow, IReadOnlyList<string> Deny)
{
    public static readonly NameRule Empty = new([], []);
}

/// <summary>
/// Parses a policy written in JSON or YAML and validates it, collecting every error with its JSON path:
/// <code>
/// name: eu-only
/// scope: team            # global | team | app
/// team: team-42          # with scope team (app: ... with scope app)
/// reason: EU customer data stays in the EU
/// onViolation: report    # report | suspend: what re-evaluation does with a live listing breaking a global policy
/// rules:
///   models: {allow: ["gpt-4o*"], deny: ["gpt-4o-audio*"]}
///   providers: {deny: [openai]}
///   listings: {allow: [...], deny: [...]}
///   regions: {allow: [eu-west-1, eu-central-1]}
///   maxClassification: internal          # public | internal | confidential | restricted
///   requiredCertifications: [soc2, iso27001]
///   requireZeroRetention: true           # calls only to listings declaring compliance.zeroRetention
///   content: {blockList: ["project falcon"]}
///   pii: redact                          # allow | redact | block
///   budget: {maxUsd: 500, period: monthly}   # daily | monthly | total; enforced by Access's budget ledger on the gateway path
/// </code>
/// </summary>
internal static class PolicyDocumentParser
{
    public const int MaxDocumentBytes = 256 * 1024;
    private static readonly string[] TopKeys = ["name", "description", "scope", "team", "app", "enabled", "reason", "onViolation", "rules"];
    private static readonly string[] RuleKeys = ["models", "providers", "listings", "regions", "maxClassification", "requiredCertifications", "requireZeroRetention", "content", "pii", "budget"];
    private static readonly string[] Scopes = ["global", "team", "app"];
    private static readonly string[] Periods = ["daily", "monthly", "total"];

    /// <summary>Reads JSON or YAML text into a JSON tree (YAML is a superset of JSON, so one parser serves both).</summary>
    public static JsonNode? ReadText(string text, ValidationErrors errors)
    {
        if (text.Length > MaxDocumentBytes)
        {
            errors.Add("$", $"the document is larger than {MaxDocumentBytes} bytes");
            return null;
        }
        try
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(text));
            if (stream.Documents.Count != 1)
            {
                errors.Add("$", "expected exactly one document");
                return null;
            }
            return Convert(stream.Documents[0].RootNode);
        }
        catch (YamlException ex)
        {
            errors.Add("$", $"not valid JSON or YAML at line {ex.Start.Line}, column {ex.Start.Column}: {ex.Message}");
            return null;
        }
    }

    private static JsonNode? Convert(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(static kv => KeyValuePair.Create(((YamlScalarNode)kv.Key).Value ?? "", Convert(kv.Value)))),
        YamlSequenceNode seq => new JsonArray(seq.Children.Select(Convert).ToArray()),
        YamlScalarNode scalar => Scalar(scalar),
        _ => null,
    };

    private static JsonNode? Scalar(YamlScalarNode scalar)
    {
        var value = scalar.Value ?? "";
        if (scalar.Style is not (ScalarStyle.Plain or ScalarStyle.Any))
        {
            return JsonValue.Create(value);
        }
        return value switch
        {
            "" or "~" or "null" or "Null" or "NULL" => null,
            "true" or "True" or "TRUE" => JsonValue.Create(true),
            "false" or "False" or "FALSE" => JsonValue.Create(false),
            _ when decimal.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => JsonValue.Create(d),
            _ => JsonValue.Create(value),
        };
    }

    public static PolicyDocument? Validate(JsonNode? root, ValidationErrors errors)
    {
        if (root is not JsonObject doc)
        {
            errors.Add("$", "a policy document is an object with name, scope and rules");
            return null;
        }
        UnknownKeys(doc, TopKeys, "", errors);
        var name = String(doc, "name", "name", errors, required: true);
        if (name is not null && (name.Length > 64 || !name.All(static c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
        {
            errors.Add("name", "use 1-64 characters: letters, digits, '.', '_', '-'");
        }
        var description = String(doc, "description", "description", errors);
        var reason = String(doc, "reason", "reason", errors);
        var scope = String(doc, "scope", "scope", errors, required: true);
        if (scope is not null && !Scopes.Contains(scope)) errors.Add("scope", $"'{scope}' is not a scope; use global, team or app");
        var team = String(doc, "team", "team", errors);
        var app = String(doc, "app", "app", errors);
        if (scope == "team" && team is null) errors.Add("team", "is required when scope is team (the team id)");
        if (scope == "app" && app is null) errors.Add("app", "is required when scope is app (the app id)");
        if (scope == "global" && (team ?? app) is not null) errors.Add(team is not null ? "team" : "app", "a global policy names no team or app");
        if (scope == "team" && app is not null) errors.Add("app", "a team policy names no app");
        if (scope == "app" && team is not null) errors.Add("team", "an app policy names no team");
        var enabled = true;
        if (doc["enabled"] is { } e)
        {
            if (e.GetValueKind() is JsonValueKind.True or JsonValueKind.False) enabled = e.GetValue<bool>();
            else errors.Add("enabled", "must be true or false");
        }
        var onViolation = String(doc, "onViolation", "onViolation", errors) ?? ViolationActions.Report;
        if (!ViolationActions.All.Contains(onViolation)) errors.Add("onViolation", $"'{onViolation}' is not an action; use {string.Join(" or ", ViolationActions.All)}");
        else if (onViolation == ViolationActions.Suspend && scope is not null && scope != "global")
        {
            errors.Add("onViolation", "only a global policy suspends listings (a team or app policy refuses its own callers' calls instead)");
        }
        var requireZeroRetention = false;

        NameRule models = NameRule.Empty, providers = NameRule.Empty, listings = NameRule.Empty;
        IReadOnlyList<string>? regions = null;
        string? maxClassification = null;
        IReadOnlyList<string> certifications = [], blockList = [];
        var pii = PiiHandling.Unspecified;
        decimal? budget = null;
        string? period = null;
        if (doc["rules"] is { } rulesNode)
        {
            if (rulesNode is not JsonObject rules)
            {
                errors.Add("rules", "must be an object");
            }
            else
            {
                UnknownKeys(rules, RuleKeys, "rules.", errors);
                models = Names(rules, "models", errors, ["allow", "deny"]);
                providers = Names(rules, "providers", errors, ["allow", "deny"]);
                listings = Names(rules, "listings", errors, ["allow", "deny"]);
                if (rules["regions"] is not null)
                {
                    var r = Names(rules, "regions", errors, ["allow"]);
                    regions = r.Allow;
                    if (r.Allow.Count == 0) errors.Add("rules.regions.allow", "list at least one region (an empty list would forbid every deployment)");
                }
                maxClassification = String(rules, "maxClassification", "rules.maxClassification", errors);
                if (maxClassification is not null && Classifications.Rank(maxClassification) is null)
                {
                    errors.Add("rules.maxClassification", $"'{maxClassification}' is not a classification; use {string.Join(", ", Classifications.Levels)}");
                }
                certifications = StringList(rules["requiredCertifications"], "rules.requiredCertifications", errors);
                if (rules["requireZeroRetention"] is { } z)
                {
                    if (z.GetValueKind() is JsonValueKind.True or JsonValueKind.False) requireZeroRetention = z.GetValue<bool>();
                    else errors.Add("rules.requireZeroRetention", "must be true or false");
                }
                if (rules["content"] is { } contentNode)
                {
                    if (contentNode is JsonObject content)
                    {
                        UnknownKeys(content, ["blockList"], "rules.content.", errors);
                        blockList = StringList(content["blockList"], "rules.content.blockList", errors);
                    }
                    else errors.Add("rules.content", "must be an object with blockList");
                }
                if (String(rules, "pii", "rules.pii", errors) is { } p)
                {
                    pii = p switch { "allow" => PiiHandling.Allow, "redact" => PiiHandling.Redact, "block" => PiiHandling.Block, _ => PiiHandling.Unspecified };
                    if (pii == PiiHandling.Unspecified) errors.Add("rules.pii", $"'{p}' is not a PII handling; use allow, redact or block");
                }
                if (rules["budget"] is { } budgetNode)
                {
                    if (budgetNode is JsonObject b)
                    {
                        UnknownKeys(b, ["maxUsd", "period"], "rules.budget.", errors);
                        if (b["maxUsd"] is { } m && m.GetValueKind() == JsonValueKind.Number && m.GetValue<decimal>() is var v && v > 0) budget = v;
                        else errors.Add("rules.budget.maxUsd", "must be a number above 0");
                        period = String(b, "period", "rules.budget.period", errors) ?? "monthly";
                        if (!Periods.Contains(period)) errors.Add("rules.budget.period", $"'{period}' is not a period; use {string.Join(", ", Periods)}");
                    }
                    else errors.Add("rules.budget", "must be an object with maxUsd and period");
                }
            }
        }
        if (!errors.IsEmpty)
        {
            return null;
        }
        return new PolicyDocument(name!, description, scope!, team ?? app, enabled, reason, models, providers, listings, regions, maxClassification?.ToLowerInvariant(),
            certifications, blockList, pii, budget, period, doc)
        {
            RequireZeroRetention = requireZeroRetention,
            OnViolation = onViolation,
        };
    }

    private static void UnknownKeys(JsonObject obj, string[] known, string prefix, ValidationErrors errors)
    {
        foreach (var (key, _) in obj)
        {
            if (!known.Contains(key)) errors.Add(prefix + key, $"unknown field; expected one of {string.Join(", ", known)}");
        }
    }

    private static string? String(JsonObject obj, string key, string path, ValidationErrors errors, bool required = false)
    {
        var node = obj[key];
        if (node is null)
        {
            if (required) errors.Add(path, "is required");
            return null;
        }
        if (node.GetValueKind() != JsonValueKind.String || node.GetValue<string>() is not { Length: > 0 } s)
        {
            errors.Add(path, "must be a non-empty string");
            return null;
        }
        return s;
    }

    private static NameRule Names(JsonObject rules, string key, ValidationErrors errors, string[] lists)
    {
        if (rules[key] is not { } node) return NameRule.Empty;
        if (node is not JsonObject obj)
        {
            errors.Add($"rules.{key}", $"must be an object with {string.Join(" and/or ", lists)}");
            return NameRule.Empty;
        }
        UnknownKeys(obj, lists, $"rules.{key}.", errors);
        return new NameRule(StringList(obj["allow"], $"rules.{key}.allow", errors), StringList(obj["deny"], $"rules.{key}.deny", errors));
    }

    private static IReadOnlyList<string> StringList(JsonNode? node, string path, ValidationErrors errors)
    {
        if (node is null) return [];
        if (node is not JsonArray array)
        {
            errors.Add(path, "must be a list of strings");
            return [];
        }
        var result = new List<string>(array.Count);
        for (var i = 0; i < array.Count; i++)
        {
            if (array[i] is { } item && item.GetValueKind() == JsonValueKind.String && item.GetValue<string>() is { Length: > 0 and <= 200 } s) result.Add(s);
            else errors.Add($"{path}[{i}]", "must be a non-empty string of at most 200 characters");
        }
        return result;
    }
}
