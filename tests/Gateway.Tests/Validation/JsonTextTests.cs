using LlmMarketplace.BuildingBlocks.Validation;

namespace LlmMarketplace.Gateway.Tests.Validation;

/// <summary><see cref="JsonText"/> finds text that cannot become a string, and names where it is.</summary>
public sealed class JsonTextTests
{
    private static string? Find(string json) => JsonText.FindInvalidText(Encoding.UTF8.GetBytes(json));

    /// <summary>A document with raw bytes spliced in where <c>@@</c> stands.</summary>
    private static string? FindWithBytes(string json, params byte[] bytes)
    {
        var at = json.IndexOf("@@", StringComparison.Ordinal);
        var document = Encoding.UTF8.GetBytes(json[..at]).Concat(bytes).Concat(Encoding.UTF8.GetBytes(json[(at + 2)..])).ToArray();
        return JsonText.FindInvalidText(document);
    }

    [Theory]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"héllo ✓ 😀"}]}""")]
    [InlineData("""{"a":"\ud83d\ude00","b":["\u00e9",1,true,null,{"c":"\n"}]}""")]
    [InlineData("""[]""")]
    [InlineData("""42""")]
    public void Valid_text_finds_nothing(string json) => Assert.Null(Find(json));

    [Fact]
    public void Invalid_utf8_bytes_are_found_with_their_path()
    {
        Assert.Equal("messages[0].content", FindWithBytes("""{"model":"m","messages":[{"role":"user","content":"a@@b"}]}""", 0xFF));
        // A truncated multi-byte sequence and an overlong encoding.
        Assert.Equal("input", FindWithBytes("""{"model":"m","input":"@@"}""", 0xE2, 0x82));
        Assert.Equal("stop[1]", FindWithBytes("""{"stop":["ok","@@"]}""", 0xC0, 0xAF));
    }

    [Theory]
    [InlineData("""{"messages":[{"role":"user","content":"\ud800"}]}""", "messages[0].content")]
    [InlineData("""{"messages":[{"role":"user","content":"x\udc00y"}]}""", "messages[0].content")]
    [InlineData("""{"user":"\ud800x"}""", "user")]
    [InlineData("""{"user":"\ude00\ud83d"}""", "user")]
    public void Lone_surrogate_escapes_are_found(string json, string path) => Assert.Equal(path, Find(json));

    [Fact]
    public void Nested_paths_name_objects_and_array_indexes()
    {
        Assert.Equal("a.b[1].c", Find("""{"a":{"b":[1,{"c":"\ud800"}]}}"""));
        Assert.Equal("b", Find("""{"a":{"x":[1,2]},"b":"\udfff"}"""));
        Assert.Equal("[1]", Find("""["ok","\udfff"]"""));
        Assert.Equal("x[0][2]", Find("""{"x":[[0,"",  "\ud800"]]}"""));
        Assert.Equal("$", Find("\"\\ud800\""));
    }

    [Fact]
    public void An_invalid_property_name_names_the_object_that_holds_it()
    {
        Assert.Equal("messages[0]", Find("""{"messages":[{"\ud800":"x"}]}"""));
        Assert.Equal("$", Find("""{"\udc00":1}"""));
    }

    [Fact]
    public void Malformed_json_is_left_to_the_parser() => Assert.Null(Find("""{"messages":[ """));

    [Fact]
    public void IsValid_checks_strings()
    {
        Assert.True(JsonText.IsValid("ok 😀"));
        Assert.False(JsonText.IsValid("\ud800"));
        Assert.False(JsonText.IsValid("a\udc00"));
    }
}
