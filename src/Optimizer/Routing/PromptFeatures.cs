namespace LlmMarketplace.Optimizer.Routing;

/// <summary>A sparse feature vector: hashed indexes and their values.</summary>
internal readonly record struct SparseVector(int[] Indexes, double[] Values);

/// <summary>
/// Features of a prompt computed here, with no model weights: sizes, digits, math and code markers, question words and
/// hashed word unigrams and bigrams (the hashing trick into <see cref="Dimensions"/> slots). The prompt itself is not kept.
/// </summary>
internal static class PromptFeatures
{
    public const int Bits = 16;
    public const int Dimensions = 1 << Bits;

    private static readonly string[] QuestionWords = ["what", "why", "how", "which", "who", "when", "where", "explain", "prove", "calculate", "compute", "write"];
    private static readonly string[] MathWords = ["percent", "total", "each", "average", "ratio", "fraction", "twice", "half", "times", "sum", "per", "equation", "probability", "remainder"];
    private static readonly string[] CodeMarkers = ["```", "def ", "function", "class ", "return", "=>", "{", "};", "#include", "select "];

    /// <summary>The text of the user and system messages of an OpenAI chat request (text parts only).</summary>
    public static string PromptText(JsonElement request)
    {
        if (request.ValueKind != JsonValueKind.Object || !request.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array)
        {
            return "";
        }
        var text = new System.Text.StringBuilder();
        foreach (var message in messages.EnumerateArray())
        {
            if (message.ValueKind != JsonValueKind.Object || !message.TryGetProperty("content", out var content)) continue;
            if (message.TryGetProperty("role", out var role) && role.ValueKind == JsonValueKind.String && role.GetString() == "assistant") continue;
            if (content.ValueKind == JsonValueKind.String)
            {
                text.Append(content.GetString()).Append('\n');
            }
            else if (content.ValueKind == JsonValueKind.Array)
            {
                foreach (var part in content.EnumerateArray())
                {
                    if (part.ValueKind == JsonValueKind.Object && part.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String)
                    {
                        text.Append(t.GetString()).Append('\n');
                    }
                }
            }
        }
        return text.ToString();
    }

    public static SparseVector Compute(string prompt)
    {
        var features = new Dictionary<int, double>();
        void Dense(string name, double value)
        {
            if (value == 0) return;
            var index = Slot("#" + name);
            features[index] = features.GetValueOrDefault(index) + value;
        }

        var lower = prompt.ToLowerInvariant();
        var words = Words(lower);
        var digits = 0;
        var numbers = 0;
        var operators = 0;
        var inNumber = false;
        foreach (var c in prompt)
        {
            if (char.IsAsciiDigit(c))
            {
                digits++;
                if (!inNumber) numbers++;
                inNumber = true;
            }
            else
            {
                inNumber = inNumber && (c is '.' or ',');
                if (c is '+' or '*' or '/' or '=' or '%' or '$' or '^' or '<' or '>') operators++;
            }
        }
        var sentences = prompt.Count(static c => c is '.' or '?' or '!' or '\n');

        Dense("bias", 1);
        Dense("chars", Math.Log(1 + prompt.Length) / 8);
        Dense("words", Math.Log(1 + words.Count) / 6);
        Dense("sentences", Math.Log(1 + sentences) / 4);
        Dense("numbers", Math.Log(1 + numbers) / 3);
        Dense("digit_share", prompt.Length == 0 ? 0 : 10.0 * digits / prompt.Length);
        Dense("operators", Math.Log(1 + operators) / 2);
        Dense("length_bucket_" + Math.Min(12, (int)Math.Log2(1 + words.Count)), 1);
        Dense("numbers_bucket_" + Math.Min(8, numbers), 1);
        Dense("question_mark", prompt.Contains('?') ? 1 : 0);
        Dense("choices", lower.Contains("\na.", StringComparison.Ordinal) && lower.Contains("\nd.", StringComparison.Ordinal) ? 1 : 0);
        foreach (var w in QuestionWords) Dense("q_" + w, lower.Contains(w, StringComparison.Ordinal) ? 1 : 0);
        foreach (var w in MathWords) Dense("m_" + w, lower.Contains(w, StringComparison.Ordinal) ? 1 : 0);
        foreach (var m in CodeMarkers) Dense("c_" + m, lower.Contains(m, StringComparison.Ordinal) ? 1 : 0);

        // Word unigrams and bigrams, scaled so that a long prompt does not outweigh the dense features.
        if (words.Count > 0)
        {
            var scale = 1.0 / Math.Sqrt(words.Count);
            for (var i = 0; i < words.Count; i++)
            {
                var u = Slot("u:" + words[i]);
                features[u] = features.GetValueOrDefault(u) + scale;
                if (i > 0)
                {
                    var b = Slot("b:" + words[i - 1] + " " + words[i]);
                    features[b] = features.GetValueOrDefault(b) + scale;
                }
            }
        }

        var indexes = new int[features.Count];
        var values = new double[features.Count];
        var k = 0;
        foreach (var (index, value) in features)
        {
            indexes[k] = index;
            values[k] = value;
            k++;
        }
        return new SparseVector(indexes, values);
    }

    private static List<string> Words(string lower)
    {
        var words = new List<string>();
        var start = -1;
        for (var i = 0; i <= lower.Length; i++)
        {
            var letter = i < lower.Length && char.IsLetter(lower[i]);
            if (letter && start < 0) start = i;
            else if (!letter && start >= 0)
            {
                words.Add(lower[start..i]);
                start = -1;
            }
        }
        return words;
    }

    /// <summary>FNV-1a: stable across processes and runtimes (string.GetHashCode is randomized per process).</summary>
    private static int Slot(string feature)
    {
        var hash = 2166136261u;
        foreach (var c in feature)
        {
            hash = (hash ^ c) * 16777619u;
        }
        return (int)(hash & (Dimensions - 1));
    }
}
