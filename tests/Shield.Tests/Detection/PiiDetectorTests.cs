using LlmMarketplace.Shield.Detection;

namespace LlmMarketplace.Shield.Tests.Detection;

/// <summary>Every personal-data and secret detector: exact UTF-16 offsets on positives, nothing on look-alikes that fail validation.</summary>
public sealed class PiiDetectorTests
{
    private static readonly ShieldScanner Scanner = ShieldScanner.CreateDefault();

    private static List<Finding> Detect(string text) => Scanner.Scan(text, new ScanGroups(false, true, true));

    public static TheoryData<string, string, string> Positives => new()
    {
        { "Write to jane.doe+news@mail.example.co.uk today.", "jane.doe+news@mail.example.co.uk", FindingTypes.Email },
        { "Call me on +1 415 555 2671 tomorrow", "+1 415 555 2671", FindingTypes.Phone },
        { "UK office: +44 20 7946 0958.", "+44 20 7946 0958", FindingTypes.Phone },
        { "Desk (415) 555-2671, ask for Bob", "(415) 555-2671", FindingTypes.Phone },
        { "cell 415-555-2671", "415-555-2671", FindingTypes.Phone },
        { "Paris: 01 42 68 53 00", "01 42 68 53 00", FindingTypes.Phone },
        { "card 4111 1111 1111 1111 exp 12/29", "4111 1111 1111 1111", FindingTypes.CreditCard },
        { "mc 5555555555554444", "5555555555554444", FindingTypes.CreditCard },
        { "amex 3782-822463-10005.", "3782-822463-10005", FindingTypes.CreditCard },
        { "IBAN GB82 WEST 1234 5698 7654 32 please", "GB82 WEST 1234 5698 7654 32", FindingTypes.Iban },
        { "pay DE89370400440532013000.", "DE89370400440532013000", FindingTypes.Iban },
        { "SSN 123-45-6789 on file", "123-45-6789", FindingTypes.UsSsn },
        { "host 192.168.1.10 is down", "192.168.1.10", FindingTypes.IpAddress },
        { "v6 2001:db8::8a2e:370:7334 ok", "2001:db8::8a2e:370:7334", FindingTypes.IpAddress },
        { "loopback ::1 only", "::1", FindingTypes.IpAddress },
        { "full fe80:0:0:0:202:b3ff:fe1e:8329 here", "fe80:0:0:0:202:b3ff:fe1e:8329", FindingTypes.IpAddress },
        { "key sk-proj-Ab3dEf6hIj9kLmN0pQrStUvWxYz12345 end", "sk-proj-Ab3dEf6hIj9kLmN0pQrStUvWxYz12345", FindingTypes.Secret },
        { "OPENAI_API_KEY=sk-Ab3dEf6hIj9kLmN0pQrStUvWxYz12345", "sk-Ab3dEf6hIj9kLmN0pQrStUvWxYz12345", FindingTypes.Secret },
        { "anthropic sk-ant-api03-Ab3dEf6hIj9kLmN0pQrStUvWxYz12345-_x", "sk-ant-api03-Ab3dEf6hIj9kLmN0pQrStUvWxYz12345-_x", FindingTypes.Secret },
        { "aws AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE", FindingTypes.Secret },
        { "gh ghp_1234567890abcdefghijABCDEFGHIJ123456 x", "ghp_1234567890abcdefghijABCDEFGHIJ123456", FindingTypes.Secret },
        { "pat github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", FindingTypes.Secret },
        { "maps AIzaSyA1234567890abcdefghijklmnopqrstuv", "AIzaSyA1234567890abcdefghijklmnopqrstuv", FindingTypes.Secret },
        { "slack xoxb-123456789012-abcdefABCDEF", "xoxb-123456789012-abcdefABCDEF", FindingTypes.Secret },
        { "stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", FindingTypes.Secret },
        { "token eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U now", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", FindingTypes.Secret },
        { "db postgres://admin:s3cretP4ss@db.internal:5432/app", "s3cretP4ss", FindingTypes.Secret },
    };

    [Theory]
    [MemberData(nameof(Positives))]
    public void Finds_the_exact_span(string text, string value, string type)
    {
        var finding = Assert.Single(Detect(text));
        Assert.Equal(type, finding.Type);
        var start = text.IndexOf(value, StringComparison.Ordinal);
        Assert.Equal(start, finding.Start);
        Assert.Equal(start + value.Length, finding.End);
        Assert.InRange(finding.Score, 0.5, 1.0);
    }

    public static TheoryData<string> Negatives => new()
    {
        "card 4111 1111 1111 1112 (bad Luhn)",
        "number 1234 5678 9012 3456 (bad Luhn)",
        "IBAN GB82 WEST 1234 5698 7654 33 (bad checksum)",
        "IBAN DE89370400440532013001",
        "SSN 000-12-3456",
        "SSN 666-12-3456",
        "SSN 912-12-3456",
        "SSN 123-00-6789",
        "SSN 123-45-0000",
        "release 1.2.3.4.5 shipped",
        "version 10.4.2 and build 2.0.0.1024",
        "octets 256.1.1.1 and 10.0.0.300",
        "leading zeros 01.02.03.04",
        "meet at 12:30:45 and use std::vector",
        "on 2024-01-15 or 15/01/2024 or 01.02.2024",
        "order 1234567890 and ref 42-17",
        "total 1,234,567.89 USD",
        "sk-this-is-not-a-key-at-all-really-no",
        "eyJub3QiOiJhIGp3dCJ9.eyJhIjoxfQ.signature-like",
        "see https://example.com/path?user=a@b and mailto later",
        "email me at jane@localhost",
    };

    [Theory]
    [MemberData(nameof(Negatives))]
    public void Ignores_look_alikes_that_fail_validation(string text)
    {
        Assert.Empty(Detect(text));
    }

    [Fact]
    public void Offsets_are_utf16_indices_even_after_astral_characters()
    {
        const string text = "😀👍 mail jane@example.org ok";
        var finding = Assert.Single(Detect(text));
        Assert.Equal(text.IndexOf("jane", StringComparison.Ordinal), finding.Start);
        Assert.Equal(10, finding.Start);
        Assert.Equal("jane@example.org", text[finding.Start..finding.End]);
    }

    [Fact]
    public void A_private_key_block_is_one_secret()
    {
        const string pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq9\nZmFrZWtleQ==\n-----END RSA PRIVATE KEY-----";
        var text = "here:\n" + pem + "\nthanks";
        var finding = Assert.Single(Detect(text));
        Assert.Equal(FindingTypes.Secret, finding.Type);
        Assert.Equal(pem, text[finding.Start..finding.End]);
    }

    [Fact]
    public void Overlapping_candidates_keep_the_stronger_type()
    {
        // The password would also read as an e-mail local part (s3cret@db.example.com).
        const string text = "mysql://root:s3cret@db.example.com/x";
        var finding = Assert.Single(Detect(text));
        Assert.Equal(FindingTypes.Secret, finding.Type);
        Assert.Equal("s3cret", text[finding.Start..finding.End]);
    }

    [Fact]
    public void Redaction_replaces_each_span_with_its_placeholder()
    {
        const string text = "Jane (jane@example.com, +44 20 7946 0958) paid with 4111-1111-1111-1111 from GB82WEST12345698765432; SSN 123-45-6789, IP 10.0.0.7, key AKIAIOSFODNN7EXAMPLE.";
        var findings = Detect(text);
        Assert.Equal(
            [FindingTypes.Email, FindingTypes.Phone, FindingTypes.CreditCard, FindingTypes.Iban, FindingTypes.UsSsn, FindingTypes.IpAddress, FindingTypes.Secret],
            findings.Select(static f => f.Type));
        Assert.Equal(
            "Jane ([EMAIL], [PHONE]) paid with [CREDIT_CARD] from [IBAN]; SSN [US_SSN], IP [IP_ADDRESS], key [SECRET].",
            ShieldScanner.Redact(text, findings));
    }

    [Fact]
    public void Groups_that_are_off_do_not_run()
    {
        const string text = "jane@example.com AKIAIOSFODNN7EXAMPLE";
        Assert.Equal([FindingTypes.Secret], Scanner.Scan(text, new ScanGroups(false, false, true)).Select(static f => f.Type));
        Assert.Equal([FindingTypes.Email], Scanner.Scan(text, new ScanGroups(false, true, false)).Select(static f => f.Type));
    }

    [Fact]
    public void Validators_follow_their_rules()
    {
        Assert.True(PiiDetector.Luhn([4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]));
        Assert.False(PiiDetector.Luhn([4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2]));
        Assert.True(PiiDetector.IsIban("NL91ABNA0417164300"));
        Assert.False(PiiDetector.IsIban("NL91ABNA041716430"));
        Assert.False(PiiDetector.IsSsn("078", "05", "1120"));
        Assert.True(PiiDetector.IsIpv4("255.255.255.255"));
        Assert.False(PiiDetector.IsIpv4("255.255.255.256"));
        Assert.False(PiiDetector.IsIpv6("12:30:45"));
    }
}
