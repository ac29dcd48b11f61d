using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace LlmMarketplace.Gateway.Caching;

/// <summary>
/// What the semantic cache compares of a chat request: the text of its last user message (embedded), the facts a
/// paraphrase must keep word for word (the <see cref="Guard"/>), and everything else (the <see cref="Context"/>: the
/// earlier messages, the system prompt, tools and sampling parameters, which must be identical).
/// </summary>
internal sealed partial record SemanticPrompt(string Text, string Context, string Guard)
{
    /// <summary>Request fields that do not change the answer and are left out of the context.</summary>
    private static readonly HashSet<string> Ignored = new(StringComparer.Ordinal) { "model", "stream", "stream_options", "user", "metadata", "store" };

    /// <summary>
    /// The prompt of a chat request whose last message is the user's and is plain text; null for anything else (tool
    /// results, images, audio), which only the exact cache serves.
    /// </summary>
    public static SemanticPrompt? From(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array) return null;
        var count = messages.GetArrayLength();
        if (count == 0) return null;
        var last = messages[count - 1];
        if (last.ValueKind != JsonValueKind.Object || !last.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String || role.GetString() != "user") return null;
        if (!last.TryGetProperty("content", out var content) || TextOf(content) is not { Length: > 0 } text) return null;
        foreach (var property in last.EnumerateObject())
        {
            // A named participant or anything beyond role and content makes the message more than its text.
            if (property.Name is not ("role" or "content")) return null;
        }
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var property in root.EnumerateObject().OrderBy(static p => p.Name, StringComparer.Ordinal))
            {
                if (Ignored.Contains(property.Name)) continue;
                writer.WritePropertyName(property.Name);
                if (property.Name == "messages")
                {
                    writer.WriteStartArray();
                    for (var i = 0; i < count - 1; i++) CacheKey.WriteCanonical(writer, messages[i]);
                    writer.WriteEndArray();
                }
                else
                {
                    CacheKey.WriteCanonical(writer, property.Value);
                }
            }
            writer.WriteEndObject();
        }
        var normalized = CacheKey.NormalizeWhitespace(text);
        return new SemanticPrompt(normalized, Convert.ToHexString(SHA256.HashData(buffer.WrittenSpan)), ComputeGuard(normalized));
    }

    private static string? TextOf(JsonElement content)
    {
        if (content.ValueKind == JsonValueKind.String) return content.GetString();
        if (content.ValueKind != JsonValueKind.Array) return null;
        var sb = new StringBuilder();
        foreach (var part in content.EnumerateArray())
        {
            if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out var type) || type.GetString() != "text"
                || !part.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String) return null;
            if (sb.Length > 0) sb.Append('\n');
            sb.Append(text.GetString());
        }
        return sb.ToString();
    }

    /// <summary>
    /// The facts two phrasings of one question share exactly, however close their embeddings: the numbers (digits or
    /// number words), the names in their order (capitalised words, except common words opening a sentence), quoted strings, code
    /// identifiers (snake_case, camelCase, dotted or called names, backticked spans) and whether it is negated. Two
    /// prompts whose guards differ never share an answer.
    /// </summary>
    internal static string ComputeGuard(string text)
    {
        var numbers = new SortedSet<string>(StringComparer.Ordinal);
        // Names keep their order: "Celsius to Fahrenheit" is not "Fahrenheit to Celsius".
        var names = new List<string>();
        var quotes = new SortedSet<string>(StringComparer.Ordinal);
        var code = new SortedSet<string>(StringComparer.Ordinal);
        var negated = false;

        foreach (Match m in Quoted().Matches(text)) quotes.Add(CacheKey.NormalizeWhitespace(m.Groups["q"].Value).ToLowerInvariant());
        foreach (Match m in Identifier().Matches(text))
        {
            // Abbreviations such as "e.g." or "U.S." are not code.
            if (m.Value.Split('.').All(static part => part.Length <= 1)) continue;
            code.Add(m.Value.TrimEnd('(', ')'));
        }
        foreach (Match m in Number().Matches(text)) numbers.Add(NormalizeNumber(m.Value));

        var sentenceStart = true;
        foreach (Match m in Word().Matches(text))
        {
            var word = m.Value;
            var lower = word.ToLowerInvariant();
            if (lower.EndsWith("n't", StringComparison.Ordinal) || Negations.Contains(lower)) negated = true;
            if (NumberWords.TryGetValue(lower, out var n)) numbers.Add(n);
            if (char.IsUpper(word[0]) && word != "I" && !(sentenceStart && CommonWords.Contains(lower)))
            {
                var name = Possessive(lower);
                if (!names.Contains(name)) names.Add(name);
            }
            var end = m.Index + m.Length;
            sentenceStart = NextIsSentenceStart(text, end);
        }
        if (numbers.Count + names.Count + quotes.Count + code.Count == 0 && !negated) return "";
        return $"n:{string.Join(',', numbers)}|e:{string.Join(',', names)}|q:{string.Join('\u001f', quotes)}|c:{string.Join(',', code)}|not:{(negated ? 1 : 0)}";
    }

    private static bool NextIsSentenceStart(string text, int from)
    {
        for (var i = from; i < text.Length; i++)
        {
            var c = text[i];
            if (c is '.' or '?' or '!' or ':' or ';' or '\n') return true;
            if (char.IsLetterOrDigit(c)) return false;
        }
        return false;
    }

    private static string Possessive(string word) =>
        word.EndsWith("'s", StringComparison.Ordinal) || word.EndsWith("\u2019s", StringComparison.Ordinal) ? word[..^2] : word;

    private static string NormalizeNumber(string raw)
    {
        var digits = raw.Replace(",", "", StringComparison.Ordinal);
        return double.TryParse(digits, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            ? value.ToString("R", CultureInfo.InvariantCulture)
            : digits;
    }

    [GeneratedRegex("\"(?<q>[^\"]{1,200})\"|\u201c(?<q>[^\u201d]{1,200})\u201d|(?<![\\w'])'(?<q>[^']{1,200})'(?![\\w'])|`(?<q>[^`]{1,200})`")]
    private static partial Regex Quoted();

    [GeneratedRegex(@"\b(?:[A-Za-z_$][A-Za-z0-9_$]*_[A-Za-z0-9_$]*|[a-z][a-z0-9]*[A-Z][A-Za-z0-9]*|[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+|[A-Za-z_][A-Za-z0-9_]*\(\))")]
    private static partial Regex Identifier();

    [GeneratedRegex(@"\d+(?:[.,]\d+)*")]
    private static partial Regex Number();

    [GeneratedRegex(@"[\p{L}][\p{L}\p{N}]*(?:['\u2019][\p{L}]+)?")]
    private static partial Regex Word();

    private static readonly HashSet<string> Negations = new(StringComparer.Ordinal)
    {
        "not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "without", "cannot", "nowhere",
    };

    private static readonly Dictionary<string, string> NumberWords = new(StringComparer.Ordinal)
    {
        ["zero"] = "0", ["two"] = "2", ["three"] = "3", ["four"] = "4", ["five"] = "5", ["six"] = "6", ["seven"] = "7",
        ["eight"] = "8", ["nine"] = "9", ["ten"] = "10", ["eleven"] = "11", ["twelve"] = "12", ["thirteen"] = "13",
        ["fourteen"] = "14", ["fifteen"] = "15", ["sixteen"] = "16", ["seventeen"] = "17", ["eighteen"] = "18", ["nineteen"] = "19",
        ["twenty"] = "20", ["thirty"] = "30", ["forty"] = "40", ["fifty"] = "50", ["sixty"] = "60", ["seventy"] = "70",
        ["eighty"] = "80", ["ninety"] = "90", ["hundred"] = "100", ["thousand"] = "1000", ["million"] = "1000000", ["billion"] = "1000000000",
        ["half"] = "0.5", ["twice"] = "x2", ["double"] = "x2", ["triple"] = "x3", ["dozen"] = "12",
        ["first"] = "1st", ["second"] = "2nd", ["third"] = "3rd", ["fourth"] = "4th", ["fifth"] = "5th", ["last"] = "last",
    };

    /// <summary>Words that are capitalised only because they open a sentence (questions, requests, pronouns, articles).</summary>
    private static readonly HashSet<string> CommonWords = new(StringComparer.Ordinal)
    {
        "a", "an", "the", "this", "that", "these", "those", "there", "here", "it", "its", "i", "i'm", "i've", "i'd", "my", "me", "we", "our", "you", "your",
        "he", "she", "they", "their", "his", "her", "what", "what's", "whats", "which", "who", "who's", "whom", "whose", "when", "where", "where's", "why",
        "how", "how's", "is", "are", "was", "were", "be", "do", "does", "did", "can", "could", "would", "should", "will", "shall", "may", "might", "must",
        "have", "has", "had", "please", "kindly", "tell", "give", "show", "explain", "describe", "define", "list", "name", "write", "summarize",
        "summarise", "compare", "help", "find", "make", "create", "generate", "suggest", "recommend", "provide", "translate", "convert",
        "calculate", "compute", "count", "say", "let", "let's", "need", "want", "looking", "any", "some", "if", "in", "on", "at", "for",
        "from", "to", "of", "with", "by", "about", "as", "and", "or", "but", "so", "then", "also", "just", "quick", "quickly", "briefly", "hey",
        "hi", "hello", "ok", "okay", "yes", "no", "not", "don't", "doesn't", "isn't", "aren't", "can't", "won't", "never", "without",
        "during", "after", "before", "since", "between", "over", "under", "into", "all", "each", "every", "most", "many", "much", "more",
        "less", "few", "one", "other", "another", "such", "same", "different", "best", "good", "bad", "simple", "simply", "basically",
        "actually", "really", "roughly", "approximately", "exactly", "could've", "hows", "wondering", "curious", "question",
        "remind", "outline", "walk", "teach", "clarify", "elaborate", "identify", "state", "recall", "mention", "offer", "share", "spell",
        "pick", "choose", "rank", "rewrite", "rephrase", "fix", "solve", "determine", "estimate", "whereabouts", "approx",
    };
}
