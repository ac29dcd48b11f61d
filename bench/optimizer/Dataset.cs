using System.Text;
using System.Text.Json;

namespace LlmMarketplace.Bench.Optimizer;

/// <summary>One evaluation prompt: each model's correctness and, where recorded, its answer text.</summary>
internal sealed record Item(string Prompt, bool WeakCorrect, bool StrongCorrect, string? WeakAnswer, string? StrongAnswer);

/// <summary>Reads RouteLLM's per-model correctness files (CSV with quoted multi-line fields).</summary>
internal static class Dataset
{
    public const string WeakColumn = "mistralai/Mixtral-8x7B-Instruct-v0.1";
    public const string StrongColumn = "gpt-4-1106-preview";

    public static List<Item> Load(IEnumerable<string> csvFiles, string contaminatedJsonl)
    {
        var contaminated = File.ReadLines(contaminatedJsonl)
            .Where(static l => l.Trim().Length > 0)
            .Select(static l => JsonDocument.Parse(l).RootElement.GetProperty("eval_prompt").GetString()!)
            .ToHashSet(StringComparer.Ordinal);
        var items = new List<Item>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in csvFiles)
        {
            var rows = ParseCsv(File.ReadAllText(file));
            var header = rows[0];
            int Col(string name) => Array.IndexOf(header, name);
            var prompt = Col("prompt");
            var weak = Col(WeakColumn);
            var strong = Col(StrongColumn);
            var weakText = Col(WeakColumn + "_response");
            var strongText = Col(StrongColumn + "_response");
            if (prompt < 0 || weak < 0 || strong < 0) throw new InvalidDataException($"{Path.GetFileName(file)} lacks the prompt or correctness columns.");
            foreach (var row in rows.Skip(1))
            {
                if (row.Length <= Math.Max(weak, strong)) continue;
                var p = row[prompt];
                // Duplicated prompts would make the replay ambiguous; contaminated ones are excluded as the data asks.
                if (contaminated.Contains(p) || !seen.Add(p)) continue;
                items.Add(new Item(p, Bool(row[weak]), Bool(row[strong]),
                    weakText >= 0 ? row[weakText] : null, strongText >= 0 ? row[strongText] : null));
            }
        }
        return items;
    }

    private static bool Bool(string value) => string.Equals(value.Trim(), "True", StringComparison.OrdinalIgnoreCase);

    /// <summary>RFC 4180: commas, quoted fields with doubled quotes and line breaks.</summary>
    internal static List<string[]> ParseCsv(string text)
    {
        var rows = new List<string[]>();
        var fields = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quoted)
            {
                if (c == '"')
                {
                    if (i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i++; }
                    else quoted = false;
                }
                else field.Append(c);
            }
            else if (c == '"') quoted = true;
            else if (c == ',') { fields.Add(field.ToString()); field.Clear(); }
            else if (c == '\n' || c == '\r')
            {
                if (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n') i++;
                fields.Add(field.ToString());
                field.Clear();
                if (fields.Count > 1 || fields[0].Length > 0) rows.Add(fields.ToArray());
                fields.Clear();
            }
            else field.Append(c);
        }
        if (field.Length > 0 || fields.Count > 0)
        {
            fields.Add(field.ToString());
            rows.Add(fields.ToArray());
        }
        return rows;
    }
}
