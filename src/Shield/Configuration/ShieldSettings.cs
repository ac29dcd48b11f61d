using System.Globalization;
using LlmMarketplace.BuildingBlocks.Configuration;
using LlmMarketplace.BuildingBlocks.Validation;
using LlmMarketplace.Shield.Detection;
using Microsoft.Extensions.Configuration;

namespace LlmMarketplace.Shield.Configuration;

/// <summary>What the shield does with a finding of a detector group.</summary>
public enum ShieldMode
{
    /// <summary>The detectors of the group do not run.</summary>
    Off,

    /// <summary>Findings are logged (types and counts, never the text) and counted in metrics; the call goes on unchanged.</summary>
    Monitor,

    /// <summary>Spans are replaced by placeholders (<c>[EMAIL]</c>...) before the text goes on. Not available for injection.</summary>
    Redact,

    /// <summary>The call is refused with <c>content_blocked</c>.</summary>
    Block,
}

/// <summary>The mode of each detector group for one call.</summary>
public sealed record ShieldModes(ShieldMode Injection, ShieldMode Pii, ShieldMode Secrets)
{
    public static readonly ShieldModes Off = new(ShieldMode.Off, ShieldMode.Off, ShieldMode.Off);

    public bool AllOff => Injection == ShieldMode.Off && Pii == ShieldMode.Off && Secrets == ShieldMode.Off && BlockedTerms.Count == 0;

    /// <summary>Terms a prompt may not contain (a policy's content block list); a match refuses the call.</summary>
    public IReadOnlyList<BlockedTerm> BlockedTerms { get; init; } = [];

    /// <summary>Why <see cref="Pii"/> has its mode when a policy set it (<c>policy 'name': reason</c>), for refusals.</summary>
    public string? PiiBecause { get; init; }

    public ShieldMode For(DetectorGroup group) => group switch
    {
        DetectorGroup.Injection => Injection,
        DetectorGroup.Pii => Pii,
        _ => Secrets,
    };
}

/// <summary>A blocked term and the policy that blocks it (<c>policy 'name': reason</c>).</summary>
public sealed record BlockedTerm(string Term, string Because);

/// <summary>Modes for calls of a model and/or a team; unset groups inherit from less specific scopes and the defaults.</summary>
public sealed record ShieldScope(string? Model, string? Team, ShieldMode? Injection, ShieldMode? Pii, ShieldMode? Secrets)
{
    /// <summary>2 for model and team, 1 for a model, 0 for a team.</summary>
    public int Specificity => (Model is null ? 0 : 1) + (Model is not null && Team is not null ? 1 : 0);
}

/// <summary>The <c>Shield</c> configuration section.</summary>
public sealed record ShieldSettings
{
    public const string SectionName = "Shield";

    /// <summary>Longest text <c>POST /api/v1/shield/scan</c> accepts, in characters.</summary>
    public int MaxTextLength { get; init; } = 100_000;

    /// <summary>Overrides the classifier's decision threshold (probability of an attack, 0..1).</summary>
    public float? InjectionThreshold { get; init; }

    /// <summary>Finding types that make the scan API answer <c>"verdict": "block"</c>.</summary>
    public IReadOnlySet<string> BlockOn { get; init; } = new HashSet<string>(StringComparer.Ordinal) { FindingTypes.PromptInjection, FindingTypes.Jailbreak };

    /// <summary>Whether non-streamed completions are scanned for personal data and secrets (with the prompt's modes).</summary>
    public bool ScanCompletions { get; init; } = true;

    /// <summary>Modes on the gateway path when no scope matches: off unless configured.</summary>
    public ShieldModes Defaults { get; init; } = ShieldModes.Off;

    public IReadOnlyList<ShieldScope> Scopes { get; init; } = [];

    /// <summary>The settings the <c>Shield</c> section may hold (checked at start: unknown ones are errors).</summary>
    public static readonly SettingsShape Shape = SettingsShape
        .Values("MaxTextLength", "InjectionThreshold", "ScanCompletions")
        .With(
            ("BlockOn", SettingsShape.ListOf(SettingsShape.Value)),
            ("Defaults", SettingsShape.Values("Injection", "Pii", "Secrets")),
            ("Scopes", SettingsShape.ListOf(SettingsShape.Values("Model", "Team", "Injection", "Pii", "Secrets"))));

    /// <summary>Reads the section, adding every error (with its path) to <paramref name="errors"/>.</summary>
    public static ShieldSettings Read(IConfiguration configuration, ValidationErrors errors)
    {
        var section = configuration.GetSection(SectionName);
        var settings = new ShieldSettings();
        if (!section.Exists()) return settings;

        var maxText = settings.MaxTextLength;
        if (section["MaxTextLength"] is { } max)
        {
            if (!int.TryParse(max, NumberStyles.Integer, CultureInfo.InvariantCulture, out maxText) || maxText < 1 || maxText > 10_000_000)
            {
                errors.Add("Shield:MaxTextLength", $"'{max}' is not a length between 1 and 10000000 characters.");
            }
        }
        float? threshold = null;
        if (section["InjectionThreshold"] is { } t)
        {
            if (!float.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value <= 0 || value >= 1)
            {
                errors.Add("Shield:InjectionThreshold", $"'{t}' is not a probability strictly between 0 and 1.");
            }
            else
            {
                threshold = value;
            }
        }
        var blockOn = settings.BlockOn;
        var blockSection = section.GetSection("BlockOn");
        if (blockSection.Exists())
        {
            var set = new HashSet<string>(StringComparer.Ordinal);
            foreach (var item in blockSection.GetChildren())
            {
                if (item.Value is { } type && FindingTypes.All.Contains(type)) set.Add(type);
                else errors.Add($"Shield:BlockOn:{item.Key}", $"'{item.Value}' is not a finding type; use one of {string.Join(", ", FindingTypes.All)}.");
            }
            blockOn = set;
        }
        var scanCompletions = settings.ScanCompletions;
        if (section["ScanCompletions"] is { } sc && !bool.TryParse(sc, out scanCompletions))
        {
            errors.Add("Shield:ScanCompletions", $"'{sc}' is not true or false.");
        }

        var defaults = section.GetSection("Defaults");
        var modes = new ShieldModes(
            Mode(defaults, "Injection", errors) ?? ShieldMode.Off,
            Mode(defaults, "Pii", errors) ?? ShieldMode.Off,
            Mode(defaults, "Secrets", errors) ?? ShieldMode.Off);

        var scopes = new List<ShieldScope>();
        foreach (var scope in section.GetSection("Scopes").GetChildren())
        {
            var model = string.IsNullOrWhiteSpace(scope["Model"]) ? null : scope["Model"]!.Trim();
            var team = string.IsNullOrWhiteSpace(scope["Team"]) ? null : scope["Team"]!.Trim();
            if (model is null && team is null)
            {
                errors.Add($"Shield:Scopes:{scope.Key}", "A scope needs a Model, a Team or both.");
            }
            scopes.Add(new ShieldScope(model, team, Mode(scope, "Injection", errors), Mode(scope, "Pii", errors), Mode(scope, "Secrets", errors)));
        }
        foreach (var duplicate in scopes.GroupBy(static s => (s.Model, s.Team)).Where(static g => g.Count() > 1))
        {
            errors.Add("Shield:Scopes", $"More than one scope for model '{duplicate.Key.Model ?? "*"}' and team '{duplicate.Key.Team ?? "*"}'.");
        }

        return new ShieldSettings
        {
            MaxTextLength = maxText,
            InjectionThreshold = threshold,
            BlockOn = blockOn,
            ScanCompletions = scanCompletions,
            Defaults = modes,
            Scopes = scopes,
        };
    }

    private static ShieldMode? Mode(IConfigurationSection section, string key, ValidationErrors errors)
    {
        var value = section[key];
        if (string.IsNullOrWhiteSpace(value)) return null;
        var path = section.Path + ":" + key;
        if (!Enum.TryParse<ShieldMode>(value.Trim(), ignoreCase: true, out var mode) || !Enum.IsDefined(mode) || int.TryParse(value, out _))
        {
            errors.Add(path, $"'{value}' is not a mode; use off, monitor, redact or block.");
            return null;
        }
        if (key == "Injection" && mode == ShieldMode.Redact)
        {
            errors.Add(path, "Injection findings cannot be redacted; use off, monitor or block.");
            return null;
        }
        return mode;
    }
}
