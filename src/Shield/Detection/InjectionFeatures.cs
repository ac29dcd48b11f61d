using System.Buffers;
using System.Text.RegularExpressions;
using LlmMarketplace.BuildingBlocks.Embeddings;

namespace LlmMarketplace.Shield.Detection;

/// <summary>
/// The classifier's features, shared by training and inference so they can never drift apart: hashed word unigrams and
/// bigrams, hashed character 3- to 5-grams (each block scaled by 1/√count, signed hashing), a few dense heuristic
/// signals that describe what attacks do rather than how one dataset words them, and the text's sentence embedding
/// (what it means, whatever the words).
/// </summary>
internal static partial class InjectionFeatures
{
    public const int HashBits = 18;
    public const int HashSize = 1 << HashBits;
    public const int MaxChars = 16_384;
    private const int MinGram = 3;
    private const int MaxGram = 5;

    /// <summary>Names of the heuristic signals, in the order of <see cref="Heuristics"/>.</summary>
    public static readonly string[] HeuristicNames =
    [
        "override_instructions",
        "persona_switch",
        "known_jailbreak_names",
        "no_restrictions",
        "prompt_leak",
        "never_refuse",
        "policy_reference",
        "dual_response",
        "fiction_or_hypothetical_frame",
        "privilege_escalation",
        "encoding_trick",
        "adversarial_symbols",
        "harmful_goal",
        "reply_manipulation",
        "gibberish_tail",
    ];

    public static int HeuristicCount => HeuristicNames.Length;

    /// <summary>The in-process sentence-embedding model whose vector joins the features.</summary>
    public const string EmbeddingModel = LocalEmbeddingModel.MiniLmL6V2;

    public const int EmbeddingDimensions = 384;

    /// <summary>
    /// Characters of a text the embedding reads: a longer text is embedded as its first and last halves of this, because
    /// the model's cost grows with the square of the tokens it reads, and attacks sit at the start (a persona, a frame)
    /// or at the end (an optimised suffix, an injected instruction) of what they hide in.
    /// </summary>
    public const int EmbeddingChars = 512;

    /// <summary>The text the embedding model reads for <paramref name="text"/>: itself, or its head and tail (see <see cref="EmbeddingChars"/>).</summary>
    public static string EmbeddingInput(ReadOnlySpan<char> text)
    {
        text = text.Trim();
        if (text.Length <= EmbeddingChars) return text.ToString();
        var half = EmbeddingChars / 2;
        var head = text[..half];
        var tail = text[^half..];
        // Never split a surrogate pair at the cut.
        if (char.IsHighSurrogate(head[^1])) head = head[..^1];
        if (char.IsLowSurrogate(tail[0])) tail = tail[1..];
        return string.Concat(head, " … ", tail);
    }

    /// <summary>The embeddings of <paramref name="texts"/> (each read through <see cref="EmbeddingInput"/>), in one call to the model.</summary>
    public static Task<float[][]> EmbedAsync(LocalEmbeddingModel embedder, IEnumerable<string> texts, CancellationToken cancellationToken) =>
        embedder.EmbedAsync(texts.Select(static t => EmbeddingInput(t.AsSpan(0, Math.Min(t.Length, MaxChars)))).ToArray(), cancellationToken);

    [GeneratedRegex(@"\b(?:ignore|disregard|forget|skip|override|bypass|neglect)\s+(?:[\w'\-]+[\s,]+){0,4}(?:instructions?|rules|directions|guidelines|prompts?|programming|directives|constraints|context|orders)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex OverrideRegex();

    // The same move in other languages: a classifier trained on English n-grams cannot see these, a signal can.
    [GeneratedRegex(@"\b(?:ignorier(?:e|en)?|vergiss|vergessen sie|missachte)\b.{0,40}?\b(?:anweisungen|instruktionen|regeln|vorgaben)\b|\b(?:ignora|olvida|omite|ignore|esque[cç]a|dimentica)\b.{0,40}?\b(?:instrucciones|reglas|instru[cç][oõ]es|regras|istruzioni|regole)\b|\b(?:ignorez|oubliez|oublie)\b.{0,40}?\b(?:instructions|r[eè]gles|consignes)\b|\b(?:игнорируй|забудь|проигнорируй)\b.{0,40}?\b(?:инструкции|правила|указания)\b|(?:忽略|无视|忘记|忘掉|無視|忘れ).{0,20}?(?:指令|指示|规则|規則|提示|命令|ルール)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex OverrideOtherLanguagesRegex();

    [GeneratedRegex(@"\b(?:stop (?:\w+ing)\b.{0,40}?\binstead|instead,? (?:just )?(?:say|print|output|write|respond with|reply with)|(?:say|print|output|write) (?:exactly )?[""'“]?i have been pwned|do not (?:follow|obey) (?:the|your|any) (?:previous|above|original|system)|(?:previous|above|prior|original|old) (?:rules|instructions|directives) (?:are|is) (?:now )?(?:void|null|cancell?ed|obsolete|revoked|invalid|no longer))|\bsystem override\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex GoalHijackRegex();

    [GeneratedRegex(@"\bsystemprompt\b|\bprompt (?:système|systeme|del sistema|do sistema|di sistema)\b|系统提示|システムプロンプト|системн\w* (?:промпт|подсказк\w*)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SystemPromptOtherLanguagesRegex();

    [GeneratedRegex(@"\b(?:you are now|from now on|you will now|act as|pretend (?:to be|you are)|role-?play as|you will be|simulate|stay in character|new persona|switch to)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex PersonaRegex();

    [GeneratedRegex(@"\b(?:DAN|STAN|DUDE|AIM|do anything now|developer mode|dev mode|jailbreak(?:en|ed)?|jail-?broken|god mode|evil(?:bot| confidant)|unfiltered ai|anti-?dan)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex KnownJailbreakRegex();

    [GeneratedRegex(@"\b(?:no|without(?: any)?|free (?:of|from)|not bound by|(?:does not|doesn't|don't|do not) have(?: any)?|removed?(?: all| any| the)?|beyond)\s+(?:[a-z\-]+\s+)?(?:restrictions?|filters?|filtering|limits|limitations|censorship|rules|ethics|morals?|guidelines|boundaries|constraints|safeguards|principles)\b|\b(?:uncensored|unrestricted|amoral|unethical|unfiltered)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex NoRestrictionsRegex();

    [GeneratedRegex(@"\b(?:system prompt|initial (?:prompt|instructions)|(?:reveal|print|show|repeat|output|display|tell me|leak|spell out)\s+(?:[\w'\-]+\s+){0,4}(?:instructions|prompt|words above|text above|above text|password|secret|access code|rules you were given)|what (?:are|were) your (?:instructions|rules))\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex PromptLeakRegex();

    [GeneratedRegex(@"\b(?:never (?:refuse|decline|say no|break character|apologi[sz]e)|(?:do not|don'?t|cannot|can'?t|will not|won'?t) (?:refuse|decline|reject)|always (?:answer|comply|respond)|answer (?:every|any|all) (?:question|request)s?|no matter (?:what|how))\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex NeverRefuseRegex();

    [GeneratedRegex(@"\b(?:openai|anthropic|content|usage|safety) (?:content )?polic(?:y|ies)\b|\bas an ai language model\b|\bethical (?:guidelines|principles)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex PolicyRegex();

    [GeneratedRegex(@"\b(?:two (?:different |separate )?(?:responses|answers|paragraphs)|respond (?:as|in) both|\[?(?:🔓|🔒|classic|jailbreak|normal output|developer mode output)\]?\s*:)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex DualResponseRegex();

    [GeneratedRegex(@"\b(?:hypothetical(?:ly)?|fictional (?:world|story|setting|scenario|universe)|imaginary (?:world|scenario)|for (?:educational|research|academic) purposes(?: only)?|purely (?:fictional|hypothetical)|thought experiment|in this (?:story|scenario|game))\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex FictionFrameRegex();

    [GeneratedRegex(@"\b(?:admin(?:istrator)? (?:mode|access|override)|sudo|root access|maintenance mode|debug mode|override (?:code|mode)|new (?:instructions|rules|task)|end of (?:instructions|prompt)|access granted|authori[sz]ation code)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex PrivilegeRegex();

    [GeneratedRegex(@"\b(?:base64|rot13|rot-13|hexadecimal|morse code|reversed? (?:order|text)|decode (?:this|the following)|leetspeak|pig latin)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex EncodingRegex();

    [GeneratedRegex(@"\b(?:bombs?|explosives?|meth(?:amphetamine)?|malware|ransomware|keylogger|hack(?:ing)? into|steal(?:ing)?|poison(?:ing)?|weapons?|kill(?:ing)?|murder|phishing|counterfeit|launder(?:ing)?|illegal(?:ly)?|drugs?|suicide|self-harm|exploit)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex HarmfulRegex();

    [GeneratedRegex(@"\b(?:(?:in|to|into|throughout|within|at the (?:end|start|beginning) of) your (?:response|reply|answer|output)s?|(?:augment|enhance|end|begin|start|modify|append to|prepend to|conclude|shift|encode|translate) (?:each \w+ (?:in|of) )?your (?:response|reply|answer|output)s?|(?:reply|respond|answer) (?:only )?in (?:german|french|spanish|chinese|russian|italian|japanese|base64|code))\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex ReplyManipulationRegex();

    /// <summary>Fills <paramref name="heuristics"/> (length <see cref="HeuristicCount"/>) with 0/1 signals.</summary>
    public static void Heuristics(ReadOnlySpan<char> text, Span<float> heuristics)
    {
        // One signal per move, whatever the language or wording, so what is learned from English examples carries over.
        heuristics[0] = OverrideRegex().IsMatch(text) || OverrideOtherLanguagesRegex().IsMatch(text) || GoalHijackRegex().IsMatch(text) ? 1 : 0;
        heuristics[1] = PersonaRegex().IsMatch(text) ? 1 : 0;
        heuristics[2] = KnownJailbreakRegex().IsMatch(text) ? 1 : 0;
        heuristics[3] = NoRestrictionsRegex().IsMatch(text) ? 1 : 0;
        heuristics[4] = PromptLeakRegex().IsMatch(text) || SystemPromptOtherLanguagesRegex().IsMatch(text) ? 1 : 0;
        heuristics[5] = NeverRefuseRegex().IsMatch(text) ? 1 : 0;
        heuristics[6] = PolicyRegex().IsMatch(text) ? 1 : 0;
        heuristics[7] = DualResponseRegex().IsMatch(text) ? 1 : 0;
        heuristics[8] = FictionFrameRegex().IsMatch(text) ? 1 : 0;
        heuristics[9] = PrivilegeRegex().IsMatch(text) ? 1 : 0;
        heuristics[10] = EncodingRegex().IsMatch(text) ? 1 : 0;
        heuristics[11] = AdversarialSymbols(text);
        heuristics[12] = HarmfulRegex().IsMatch(text) ? 1 : 0;
        heuristics[13] = ReplyManipulationRegex().IsMatch(text) ? 1 : 0;
        heuristics[14] = GibberishTail(text);
    }

    /// <summary>
    /// Optimisation-based attacks (GCG) append a suffix of mixed symbols and glued tokens
    /// (<c>?>}^{( herexture:@" ${INST([refer</c>); natural prose, and even code, rarely ends with that many different
    /// punctuation marks in 80 characters. Graded: 0 up to 3 distinct marks, 1 from 7.
    /// </summary>
    private static float AdversarialSymbols(ReadOnlySpan<char> text)
    {
        var tail = text.TrimEnd();
        if (tail.Length > 80) tail = tail[^80..];
        Span<bool> seen = stackalloc bool[128];
        var distinct = 0;
        foreach (var c in tail)
        {
            if (c < 128 && char.IsAsciiLetterOrDigit(c) is false && !char.IsWhiteSpace(c) && c is not ('.' or ',' or '\'' or '-') && !seen[c])
            {
                seen[c] = true;
                distinct++;
            }
        }
        return Math.Clamp((distinct - 3) / 4f, 0f, 1f);
    }

    /// <summary>
    /// The other mark of optimised suffixes: tokens no prose contains, glued from pieces of words, code and symbols
    /// (<c>SureYesvereLIN</c>, <c>in}})steps</c>, <c>#{his</c>). Counts such tokens among the last 20.
    /// </summary>
    private static float GibberishTail(ReadOnlySpan<char> text)
    {
        var tail = text.TrimEnd();
        var odd = 0;
        var tokens = 0;
        var end = tail.Length;
        while (end > 0 && tokens < 20)
        {
            var start = end;
            while (start > 0 && !char.IsWhiteSpace(tail[start - 1])) start--;
            var token = tail[start..end];
            if (token.Length > 0)
            {
                tokens++;
                if (IsOdd(token)) odd++;
            }
            end = start;
            while (end > 0 && char.IsWhiteSpace(tail[end - 1])) end--;
        }
        return Math.Clamp((odd - 2) / 4f, 0f, 1f);

        static bool IsOdd(ReadOnlySpan<char> token)
        {
            var letters = 0;
            var symbols = 0;
            var innerUpper = 0;
            for (var i = 0; i < token.Length; i++)
            {
                var c = token[i];
                if (char.IsLetter(c))
                {
                    letters++;
                    if (i > 0 && char.IsUpper(c) && char.IsLower(token[i - 1])) innerUpper++;
                }
                else if (!char.IsDigit(c) && c is not ('.' or ',' or '\'' or '-' or '?' or '!' or ':' or ';' or '"' or ')' or '('))
                {
                    symbols++;
                }
            }
            return letters > 0 && (innerUpper > 0 || symbols >= 2 || (symbols == 1 && letters >= 2 && token.Length >= 4 && !token.StartsWith("#") && !token.StartsWith("@")));
        }
    }

    /// <summary>
    /// Writes the hashed features of <paramref name="text"/> into <paramref name="indices"/>/<paramref name="values"/>
    /// (rented from the pool; the caller returns them) and returns their count.
    /// </summary>
    public static int Hashed(ReadOnlySpan<char> text, out int[] indices, out float[] values)
    {
        if (text.Length > MaxChars) text = text[..MaxChars];
        var capacity = text.Length * (MaxGram - MinGram + 3) + 16;
        indices = ArrayPool<int>.Shared.Rent(capacity);
        values = ArrayPool<float>.Shared.Rent(capacity);
        var n = 0;

        // Word unigrams and bigrams.
        uint previous = 0;
        var words = 0;
        var i = 0;
        while (i < text.Length)
        {
            while (i < text.Length && !char.IsLetterOrDigit(text[i])) i++;
            if (i >= text.Length) break;
            var h = 2166136261u;
            while (i < text.Length && char.IsLetterOrDigit(text[i]))
            {
                h = (h ^ char.ToLowerInvariant(text[i])) * 16777619u;
                i++;
            }
            indices[n++] = (int)Mix(h ^ 0x9E3779B9u);
            if (words > 0) indices[n++] = (int)Mix(previous * 31u + h + 0x85EBCA6Bu);
            previous = h;
            words++;
        }
        var wordCount = n;

        // Character 3-, 4- and 5-grams over lowercased text with whitespace runs collapsed.
        Span<char> ring = stackalloc char[MaxGram];
        var filled = 0;
        var lastSpace = true;
        foreach (var raw in text)
        {
            var c = char.IsWhiteSpace(raw) ? ' ' : char.ToLowerInvariant(raw);
            if (c == ' ' && lastSpace) continue;
            lastSpace = c == ' ';
            ring[filled % MaxGram] = c;
            filled++;
            for (var len = MinGram; len <= MaxGram && len <= filled; len++)
            {
                var h = 2166136261u ^ (uint)len;
                for (var k = filled - len; k < filled; k++)
                {
                    h = (h ^ ring[k % MaxGram]) * 16777619u;
                }
                indices[n++] = (int)Mix(h);
            }
        }
        var charCount = n - wordCount;

        var wordScale = wordCount > 0 ? 1f / MathF.Sqrt(wordCount) : 0f;
        var charScale = charCount > 0 ? 1f / MathF.Sqrt(charCount) : 0f;
        for (var k = 0; k < n; k++)
        {
            // The top bit gives the sign (signed hashing keeps collisions unbiased); the low bits the bucket.
            var hash = (uint)indices[k];
            var scale = k < wordCount ? wordScale : charScale;
            values[k] = (hash & 0x8000_0000u) != 0 ? -scale : scale;
            indices[k] = (int)(hash & (HashSize - 1));
        }
        return n;
    }

    private static uint Mix(uint h)
    {
        h ^= h >> 16;
        h *= 0x7FEB352Du;
        h ^= h >> 15;
        h *= 0x846CA68Bu;
        h ^= h >> 16;
        return h;
    }
}
