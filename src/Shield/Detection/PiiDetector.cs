using System.Buffers.Text;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace LlmMarketplace.Shield.Detection;

/// <summary>
/// Personal data and secrets with exact character offsets. Regexes (source-generated) only find candidates;
/// each candidate is validated in code (Luhn, mod-97, SSN rules, octets, JSON header...) before it becomes a finding.
/// </summary>
internal static partial class PiiDetector
{
    // Overlaps are resolved by this priority (higher wins), then by length.
    private static int Priority(string type) => type switch
    {
        FindingTypes.Secret => 7,
        FindingTypes.CreditCard => 6,
        FindingTypes.Iban => 5,
        FindingTypes.UsSsn => 4,
        FindingTypes.Email => 3,
        FindingTypes.IpAddress => 2,
        _ => 1,
    };

    /// <summary>Finds non-overlapping spans of the requested groups, ordered by start.</summary>
    public static List<Finding> Detect(string text, bool pii, bool secrets)
    {
        var candidates = new List<Finding>();
        if (secrets) Secrets(text, candidates);
        if (pii)
        {
            CreditCards(text, candidates);
            Ibans(text, candidates);
            Ssns(text, candidates);
            Emails(text, candidates);
            IpAddresses(text, candidates);
            Phones(text, candidates);
        }
        return Resolve(candidates);
    }

    private static List<Finding> Resolve(List<Finding> candidates)
    {
        if (candidates.Count <= 1) return candidates;
        candidates.Sort(static (a, b) =>
        {
            var p = Priority(b.Type).CompareTo(Priority(a.Type));
            if (p != 0) return p;
            var l = (b.End - b.Start).CompareTo(a.End - a.Start);
            return l != 0 ? l : a.Start.CompareTo(b.Start);
        });
        var kept = new List<Finding>(candidates.Count);
        foreach (var c in candidates)
        {
            var overlaps = false;
            foreach (var k in kept)
            {
                if (c.Start < k.End && k.Start < c.End)
                {
                    overlaps = true;
                    break;
                }
            }
            if (!overlaps) kept.Add(c);
        }
        kept.Sort(static (a, b) => a.Start.CompareTo(b.Start));
        return kept;
    }

    // ---- e-mail ----

    [GeneratedRegex(@"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-]|\.[A-Za-z0-9])", RegexOptions.CultureInvariant)]
    private static partial Regex EmailRegex();

    private static void Emails(string text, List<Finding> findings)
    {
        if (!text.Contains('@')) return;
        foreach (var m in EmailRegex().EnumerateMatches(text))
        {
            var candidate = text.AsSpan(m.Index, m.Length);
            var local = candidate[..candidate.IndexOf('@')];
            if (local.EndsWith(".") || local.Contains("..", StringComparison.Ordinal)) continue;
            findings.Add(new Finding(FindingTypes.Email, m.Index, m.Index + m.Length, 0.99));
        }
    }

    // ---- phone numbers ----

    // International (+CC ...), parenthesised area codes and separated national formats; plain digit runs are not phones.
    [GeneratedRegex(@"(?<![\w+.\-/:])(?:\+\d{1,3}[\s.\-]?)?(?:\(\d{1,4}\)[\s.\-]?)?\d{1,4}(?:[\s.\-]\d{2,4}){1,5}(?![\w+\-/:]|[.,]\d)", RegexOptions.CultureInvariant)]
    private static partial Regex PhoneRegex();

    [GeneratedRegex(@"^\d{4}[.\-/]\d{1,2}[.\-/]\d{1,2}$|^\d{1,2}[.\-/]\d{1,2}[.\-/]\d{2,4}$", RegexOptions.CultureInvariant)]
    private static partial Regex DateLikeRegex();

    private static void Phones(string text, List<Finding> findings)
    {
        foreach (var m in PhoneRegex().EnumerateMatches(text))
        {
            var candidate = text.AsSpan(m.Index, m.Length);
            if (IsPhone(candidate))
            {
                findings.Add(new Finding(FindingTypes.Phone, m.Index, m.Index + m.Length, 0.8));
            }
        }
    }

    internal static bool IsPhone(ReadOnlySpan<char> candidate)
    {
        var digits = 0;
        var separators = 0;
        var whitespaceSeparators = 0;
        foreach (var c in candidate)
        {
            if (char.IsAsciiDigit(c)) digits++;
            else if (c is '-' or '.' or ' ') separators++;
            if (c is '\n' or '\r' or '\t') whitespaceSeparators++;
        }
        if (whitespaceSeparators > 0 || digits > 15) return false;
        if (DateLikeRegex().IsMatch(candidate)) return false;
        var international = candidate[0] == '+';
        var parenthesised = candidate.Contains('(');
        if (international)
        {
            // E.164: up to 15 digits including the country code.
            return digits >= 8;
        }
        if (digits is < 10 or > 11) return false;
        // Dotted groups of up to three digits look like versions or addresses, not phones (e.g. 10.200.30.4000).
        if (!parenthesised && separators == 0) return false;
        var first = candidate[0] == '(' ? candidate[1] : candidate[0];
        // National formats: a trunk prefix 0 (most of the world), NANP 10 digits or 1 + 10 digits.
        if (first == '0') return true;
        if (digits == 11 && first != '1') return false;
        Span<int> groups = stackalloc int[8];
        var count = 0;
        var run = 0;
        foreach (var c in candidate)
        {
            if (char.IsAsciiDigit(c)) run++;
            else if (run > 0)
            {
                if (count == groups.Length) return false;
                groups[count++] = run;
                run = 0;
            }
        }
        if (run > 0 && count < groups.Length) groups[count++] = run;
        // NANP shapes: 3-3-4 or 1-3-3-4.
        var shape = groups[..count];
        return shape.SequenceEqual([3, 3, 4]) || shape.SequenceEqual([1, 3, 3, 4]);
    }

    // ---- credit cards ----

    [GeneratedRegex(@"(?<![\w\-.])\d(?:[ \-]?\d){12,18}(?![\w\-]|\.\d)", RegexOptions.CultureInvariant)]
    private static partial Regex CardRegex();

    private static void CreditCards(string text, List<Finding> findings)
    {
        foreach (var m in CardRegex().EnumerateMatches(text))
        {
            if (IsCardNumber(text.AsSpan(m.Index, m.Length)))
            {
                findings.Add(new Finding(FindingTypes.CreditCard, m.Index, m.Index + m.Length, 0.95));
            }
        }
    }

    internal static bool IsCardNumber(ReadOnlySpan<char> candidate)
    {
        Span<byte> digits = stackalloc byte[19];
        var n = 0;
        var separator = '\0';
        foreach (var c in candidate)
        {
            if (char.IsAsciiDigit(c))
            {
                if (n == digits.Length) return false;
                digits[n++] = (byte)(c - '0');
            }
            else
            {
                // One separator style per number.
                if (separator != '\0' && separator != c) return false;
                separator = c;
            }
        }
        if (n is < 13 or > 19) return false;
        var d = digits[..n];
        // Issuer prefixes: Visa 4, Mastercard 51-55 and 2221-2720, Amex 34/37, Discover/UnionPay 6, JCB/Diners 35/36/38/30.
        var issuer = d[0] switch
        {
            4 => true,
            5 => d[1] is >= 1 and <= 5,
            2 => d[1] is >= 2 and <= 7,
            3 => d[1] is 0 or 4 or 5 or 6 or 7 or 8,
            6 => true,
            _ => false,
        };
        return issuer && Luhn(d);
    }

    internal static bool Luhn(ReadOnlySpan<byte> digits)
    {
        var sum = 0;
        var doubled = false;
        for (var i = digits.Length - 1; i >= 0; i--)
        {
            var v = digits[i];
            if (doubled)
            {
                v *= 2;
                if (v > 9) v -= 9;
            }
            sum += v;
            doubled = !doubled;
        }
        return sum % 10 == 0;
    }

    // ---- IBAN ----

    [GeneratedRegex(@"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])", RegexOptions.CultureInvariant)]
    private static partial Regex IbanRegex();

    private static readonly Dictionary<string, int> IbanLengths = new(StringComparer.Ordinal)
    {
        ["AD"] = 24, ["AE"] = 23, ["AL"] = 28, ["AT"] = 20, ["AZ"] = 28, ["BA"] = 20, ["BE"] = 16, ["BG"] = 22, ["BH"] = 22,
        ["BR"] = 29, ["BY"] = 28, ["CH"] = 21, ["CR"] = 22, ["CY"] = 28, ["CZ"] = 24, ["DE"] = 22, ["DK"] = 18, ["DO"] = 28,
        ["EE"] = 20, ["EG"] = 29, ["ES"] = 24, ["FI"] = 18, ["FO"] = 18, ["FR"] = 27, ["GB"] = 22, ["GE"] = 22, ["GI"] = 23,
        ["GL"] = 18, ["GR"] = 27, ["GT"] = 28, ["HR"] = 21, ["HU"] = 28, ["IE"] = 22, ["IL"] = 23, ["IQ"] = 23, ["IS"] = 26,
        ["IT"] = 27, ["JO"] = 30, ["KW"] = 30, ["KZ"] = 20, ["LB"] = 28, ["LC"] = 32, ["LI"] = 21, ["LT"] = 20, ["LU"] = 20,
        ["LV"] = 21, ["MC"] = 27, ["MD"] = 24, ["ME"] = 22, ["MK"] = 19, ["MR"] = 27, ["MT"] = 31, ["MU"] = 30, ["NL"] = 18,
        ["NO"] = 15, ["PK"] = 24, ["PL"] = 28, ["PS"] = 29, ["PT"] = 25, ["QA"] = 29, ["RO"] = 24, ["RS"] = 22, ["SA"] = 24,
        ["SC"] = 31, ["SE"] = 24, ["SI"] = 19, ["SK"] = 24, ["SM"] = 27, ["ST"] = 25, ["SV"] = 28, ["TL"] = 23, ["TN"] = 24,
        ["TR"] = 26, ["UA"] = 29, ["VA"] = 22, ["VG"] = 24, ["XK"] = 20,
    };

    private static void Ibans(string text, List<Finding> findings)
    {
        foreach (var m in IbanRegex().EnumerateMatches(text))
        {
            var candidate = text.AsSpan(m.Index, m.Length);
            // The regex may take a trailing short group that belongs to the next word; shrink until valid.
            for (var end = candidate.Length; end >= 15; end--)
            {
                var span = candidate[..end];
                if (span[^1] == ' ') continue;
                if (IsIban(span))
                {
                    findings.Add(new Finding(FindingTypes.Iban, m.Index, m.Index + end, 0.99));
                    break;
                }
            }
        }
    }

    internal static bool IsIban(ReadOnlySpan<char> candidate)
    {
        Span<char> compact = stackalloc char[34];
        var n = 0;
        foreach (var c in candidate)
        {
            if (c == ' ') continue;
            if (n == compact.Length) return false;
            compact[n++] = c;
        }
        if (n < 15) return false;
        var iban = compact[..n];
        if (!IbanLengths.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(iban[..2], out var length) || length != n) return false;
        // mod-97 over the rearranged string (country and check digits moved to the end, letters as 10..35).
        var remainder = 0;
        for (var i = 0; i < n; i++)
        {
            var c = iban[(i + 4) % n];
            if (char.IsAsciiDigit(c)) remainder = (remainder * 10 + (c - '0')) % 97;
            else if (char.IsAsciiLetterUpper(c)) remainder = (remainder * 100 + (c - 'A' + 10)) % 97;
            else return false;
        }
        return remainder == 1;
    }

    // ---- US SSN ----

    [GeneratedRegex(@"(?<![\w\-.])(\d{3})([\- ])(\d{2})\2(\d{4})(?![\w\-]|\.\d)", RegexOptions.CultureInvariant)]
    private static partial Regex SsnRegex();

    private static void Ssns(string text, List<Finding> findings)
    {
        foreach (Match m in SsnRegex().Matches(text))
        {
            if (IsSsn(m.Groups[1].ValueSpan, m.Groups[3].ValueSpan, m.Groups[4].ValueSpan))
            {
                findings.Add(new Finding(FindingTypes.UsSsn, m.Index, m.Index + m.Length, 0.9));
            }
        }
    }

    internal static bool IsSsn(ReadOnlySpan<char> area, ReadOnlySpan<char> group, ReadOnlySpan<char> serial)
    {
        var a = int.Parse(area, provider: System.Globalization.CultureInfo.InvariantCulture);
        if (a == 0 || a == 666 || a >= 900) return false;
        if (group is "00" || serial is "0000") return false;
        // Numbers published in advertising and never valid.
        if (area is "078" && group is "05" && serial is "1120") return false;
        if (area is "219" && group is "09" && serial is "9999") return false;
        return true;
    }

    // ---- IP addresses ----

    [GeneratedRegex(@"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)", RegexOptions.CultureInvariant)]
    private static partial Regex Ipv4Regex();

    [GeneratedRegex(@"(?<![\w:.])(?:[0-9A-Fa-f]{1,4})?(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.\d{1,3}){0,3}(?![\w:])", RegexOptions.CultureInvariant)]
    private static partial Regex Ipv6Regex();

    private static void IpAddresses(string text, List<Finding> findings)
    {
        foreach (var m in Ipv4Regex().EnumerateMatches(text))
        {
            if (IsIpv4(text.AsSpan(m.Index, m.Length)))
            {
                findings.Add(new Finding(FindingTypes.IpAddress, m.Index, m.Index + m.Length, 0.9));
            }
        }
        if (!text.Contains(':')) return;
        foreach (var m in Ipv6Regex().EnumerateMatches(text))
        {
            var candidate = text.AsSpan(m.Index, m.Length);
            if (IsIpv6(candidate))
            {
                findings.Add(new Finding(FindingTypes.IpAddress, m.Index, m.Index + m.Length, 0.9));
            }
        }
    }

    internal static bool IsIpv4(ReadOnlySpan<char> candidate)
    {
        foreach (var range in candidate.Split('.'))
        {
            var octet = candidate[range];
            if (octet.Length > 1 && octet[0] == '0') return false;
            if (int.Parse(octet, provider: System.Globalization.CultureInfo.InvariantCulture) > 255) return false;
        }
        return true;
    }

    internal static bool IsIpv6(ReadOnlySpan<char> candidate)
    {
        // Clock times (12:30:45) and words made of hex letters (a::b) are not addresses: require a digit and either
        // a compressed group (::) or all eight groups.
        var colons = candidate.Count(':');
        var compressed = candidate.IndexOf("::", StringComparison.Ordinal) >= 0;
        if (colons < 2 || (!compressed && colons < 7 && !candidate.Contains('.'))) return false;
        if (candidate.IndexOfAnyInRange('0', '9') < 0) return false;
        return IPAddress.TryParse(candidate, out var address) && address.AddressFamily == AddressFamily.InterNetworkV6;
    }

    // ---- secrets ----

    [GeneratedRegex(
        @"(?<![\w-])(?:sk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_\-]{20,}|sk-ant-[A-Za-z0-9_\-]{20,}|sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}" +
        @"|(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}|gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255}|AIza[0-9A-Za-z_\-]{35}" +
        @"|xox[abposr]-[A-Za-z0-9\-]{10,}|(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,})(?![\w-])",
        RegexOptions.CultureInvariant)]
    private static partial Regex ApiKeyRegex();

    [GeneratedRegex(@"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----", RegexOptions.CultureInvariant)]
    private static partial Regex PrivateKeyRegex();

    [GeneratedRegex(@"(?<![\w\-.])eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*(?![\w\-.])", RegexOptions.CultureInvariant)]
    private static partial Regex JwtRegex();

    [GeneratedRegex(@"\b[A-Za-z][A-Za-z0-9+.\-]{1,30}://[^\s:/@?#]{1,256}:(?<password>[^\s/@?#]{1,256})@[A-Za-z0-9.\-\[\]:]+", RegexOptions.CultureInvariant)]
    private static partial Regex UrlCredentialsRegex();

    private static void Secrets(string text, List<Finding> findings)
    {
        foreach (var m in ApiKeyRegex().EnumerateMatches(text))
        {
            var candidate = text.AsSpan(m.Index, m.Length);
            // Kebab-case words (sk-this-is-not-a-key) are not keys: real keys mix letters and digits.
            if (candidate.IndexOfAnyInRange('0', '9') < 0) continue;
            findings.Add(new Finding(FindingTypes.Secret, m.Index, m.Index + m.Length, 0.99));
        }
        if (text.Contains("PRIVATE KEY", StringComparison.Ordinal))
        {
            foreach (var m in PrivateKeyRegex().EnumerateMatches(text))
            {
                findings.Add(new Finding(FindingTypes.Secret, m.Index, m.Index + m.Length, 1.0));
            }
        }
        if (text.Contains("eyJ", StringComparison.Ordinal))
        {
            foreach (var m in JwtRegex().EnumerateMatches(text))
            {
                var candidate = text.AsSpan(m.Index, m.Length);
                if (IsJwt(candidate))
                {
                    findings.Add(new Finding(FindingTypes.Secret, m.Index, m.Index + m.Length, 0.99));
                }
            }
        }
        if (text.Contains("://", StringComparison.Ordinal))
        {
            foreach (Match m in UrlCredentialsRegex().Matches(text))
            {
                var password = m.Groups["password"];
                findings.Add(new Finding(FindingTypes.Secret, password.Index, password.Index + password.Length, 0.95));
            }
        }
    }

    /// <summary>Three base64url segments whose first decodes to a JSON object naming an algorithm or type.</summary>
    internal static bool IsJwt(ReadOnlySpan<char> candidate)
    {
        var dot = candidate.IndexOf('.');
        var header = candidate[..dot];
        if (header.Length > 2048) return false;
        Span<byte> utf8 = stackalloc byte[header.Length];
        for (var i = 0; i < header.Length; i++) utf8[i] = (byte)header[i];
        Span<byte> decoded = stackalloc byte[Base64Url.GetMaxDecodedLength(header.Length)];
        if (Base64Url.DecodeFromUtf8(utf8, decoded, out _, out var written) != System.Buffers.OperationStatus.Done) return false;
        try
        {
            var reader = new Utf8JsonReader(decoded[..written]);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("alg"u8) || reader.ValueTextEquals("typ"u8)) return true;
                reader.Skip();
            }
            return false;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
