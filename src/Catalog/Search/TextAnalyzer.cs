using System.Buffers;

namespace LlmMarketplace.Catalog.Search;

/// <summary>
/// Turns text into index terms: lower-case word pieces (keeping version numbers such as <c>3.5</c> whole), with
/// letter/digit sub-pieces (<c>qwen3.5</c> also gives <c>qwen</c> and <c>3.5</c>), English stop words dropped and a
/// light suffix stemmer so that <c>coding</c>, <c>code</c> and <c>codes</c> meet.
/// </summary>
internal static class TextAnalyzer
{
    private static readonly HashSet<string> StopWords = new(StringComparer.Ordinal)
    {
        "a", "an", "the", "and", "or", "of", "to", "in", "on", "for", "with", "by", "at", "from", "as", "is", "are", "be", "it",
        "its", "this", "that", "which", "i", "me", "my", "we", "our", "you", "your", "can", "need", "want", "some", "something",
        "good", "best", "model", "models", "llm", "ai", "use", "using", "very", "more", "most", "than", "also", "has", "have",
        "into", "via", "up", "any", "all", "do", "does", "not", "no", "one", "like", "will", "what", "who", "how",
    };

    private static readonly SearchValues<char> Separators = SearchValues.Create(" \t\r\n-_/:,;()[]{}\"'`*#!?|<>=+&~@^$%\\");

    /// <summary>Raw (unstemmed) tokens, stop words removed, with sub-pieces.</summary>
    public static List<string> RawTokens(string? text, bool keepStopWords = false)
    {
        var result = new List<string>();
        if (string.IsNullOrEmpty(text)) return result;
        var span = text.AsSpan();
        Span<char> buffer = stackalloc char[64];
        var start = -1;
        for (var i = 0; i <= span.Length; i++)
        {
            var sep = i == span.Length || Separators.Contains(span[i]) || char.IsWhiteSpace(span[i]) || (span[i] == '.' && !(i > 0 && i + 1 < span.Length && char.IsDigit(span[i - 1]) && char.IsDigit(span[i + 1])));
            if (!sep)
            {
                if (start < 0) start = i;
                continue;
            }
            if (start < 0) continue;
            var word = span[start..i];
            start = -1;
            if (word.Length > 40) continue;
            var lower = buffer[..word.Length];
            word.ToLowerInvariant(lower);
            var token = new string(lower);
            if (!keepStopWords && StopWords.Contains(token)) continue;
            result.Add(token);
            AddPieces(token, result);
        }
        return result;
    }

    /// <summary>Letter runs and digit runs of a mixed token: <c>gpt4o</c> gives <c>gpt</c>, <c>4o</c> is left whole when it ends in letters after digits.</summary>
    private static void AddPieces(string token, List<string> into)
    {
        var hasLetter = false;
        var hasDigit = false;
        foreach (var ch in token)
        {
            if (char.IsLetter(ch)) hasLetter = true;
            else if (char.IsDigit(ch)) hasDigit = true;
        }
        if (!hasLetter || !hasDigit) return;
        // Split at letter→digit boundaries only: "qwen3.5" → "qwen", "3.5"; "4o" stays.
        var start = 0;
        for (var i = 1; i < token.Length; i++)
        {
            if (char.IsLetter(token[i - 1]) && (char.IsDigit(token[i]) || token[i] == '.'))
            {
                var piece = token[start..i];
                if (piece.Length > 1 && piece != token) into.Add(piece);
                start = i;
            }
        }
        if (start > 0)
        {
            var last = token[start..];
            if (last.Length > 0 && last != token) into.Add(last);
        }
    }

    /// <summary>A light English stemmer: plural and -ing/-ed endings, and a final silent e.</summary>
    public static string Stem(string token)
    {
        if (token.Length <= 3 || !char.IsLetter(token[^1])) return token;
        var t = token;
        if (t.EndsWith("ies", StringComparison.Ordinal) && t.Length > 4) t = t[..^3] + "y";
        else if (t.EndsWith('s') && !t.EndsWith("ss", StringComparison.Ordinal) && !t.EndsWith("us", StringComparison.Ordinal) && !t.EndsWith("is", StringComparison.Ordinal) && t.Length > 3) t = t[..^1];
        if (t.EndsWith("ing", StringComparison.Ordinal) && t.Length > 5) t = t[..^3];
        else if (t.EndsWith("ed", StringComparison.Ordinal) && t.Length > 4) t = t[..^2];
        if (t.EndsWith('e') && t.Length > 3) t = t[..^1];
        if (t.Length > 3 && t[^1] == t[^2] && t[^1] is not ('l' or 's' or 'z') && char.IsLetter(t[^1])) t = t[..^1]; // "embedd" → "embed"
        return t;
    }

    /// <summary>Optimal string alignment distance, stopping early above <paramref name="max"/>.</summary>
    public static int Distance(string a, string b, int max) => LlmMarketplace.BuildingBlocks.Validation.Suggestions.Distance(a, b, max);

    /// <summary>How many edits a query word of this length may have and still match: none below 4 letters, one up to 7, two beyond.</summary>
    public static int AllowedEdits(int length) => length < 4 ? 0 : length <= 7 ? 1 : 2;
}
