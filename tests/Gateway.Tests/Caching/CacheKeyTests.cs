using LlmMarketplace.Gateway.Caching;

namespace LlmMarketplace.Gateway.Tests.Caching;

/// <summary>The cache key: formatting differences map to one key; anything that changes the answer changes the key.</summary>
public sealed class CacheKeyTests
{
    private static string Key(string json, string model = "m", bool stream = false, bool includeUsage = false)
    {
        using var document = JsonDocument.Parse(json);
        return CacheKey.Compute("chat", model, document.RootElement, stream, includeUsage);
    }

    private const string Base = """{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is 2+2?"}],"temperature":0.3,"response_format":{"type":"json_schema","json_schema":{"name":"n","strict":true}}}""";

    [Fact]
    public void The_key_is_a_sha256_in_hex()
    {
        var key = Key(Base);

        Assert.Equal(64, key.Length);
        Assert.True(key.All(Uri.IsHexDigit));
        Assert.Equal(key, Key(Base));
    }

    [Fact]
    public void Object_key_order_does_not_matter_at_any_depth()
    {
        const string Reordered = """{"response_format":{"json_schema":{"strict":true,"name":"n"},"type":"json_schema"},"temperature":0.3,"messages":[{"content":"Be brief.","role":"system"},{"content":"What is 2+2?","role":"user"}],"model":"m"}""";

        Assert.Equal(Key(Base), Key(Reordered));
    }

    [Fact]
    public void Json_formatting_and_whitespace_inside_strings_do_not_matter()
    {
        const string Spaced = """
            {
              "model": "m",
              "messages": [
                { "role": "system", "content": "  Be   brief. " },
                { "role": "user", "content": "What\n\tis 2+2?\r\n" }
              ],
              "temperature": 0.30,
              "response_format": { "type": "json_schema", "json_schema": { "name": "n", "strict": true } }
            }
            """;

        Assert.Equal(Key(Base), Key(Spaced));
    }

    [Fact]
    public void Whitespace_is_collapsed_not_removed()
    {
        Assert.NotEqual(
            Key("""{"messages":[{"role":"user","content":"hello world"}]}"""),
            Key("""{"messages":[{"role":"user","content":"helloworld"}]}"""));
        Assert.Equal("a b c", CacheKey.NormalizeWhitespace("  a \n b\t\tc  "));
    }

    [Fact]
    public void The_model_changes_the_key()
    {
        Assert.NotEqual(Key(Base, model: "m"), Key(Base, model: "other"));
    }

    [Fact]
    public void The_messages_change_the_key()
    {
        Assert.NotEqual(Key(Base), Key(Base.Replace("2+2", "2+3", StringComparison.Ordinal)));
        Assert.NotEqual(Key(Base), Key(Base.Replace("\"role\":\"system\"", "\"role\":\"developer\"", StringComparison.Ordinal)));
        Assert.NotEqual(
            Key("""{"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}"""),
            Key("""{"messages":[{"role":"user","content":"b"},{"role":"user","content":"a"}]}"""));
    }

    [Fact]
    public void Sampling_parameters_change_the_key()
    {
        Assert.NotEqual(Key(Base), Key(Base.Replace("\"temperature\":0.3", "\"temperature\":0.4", StringComparison.Ordinal)));
        Assert.NotEqual(Key(Base), Key(Base.Replace("\"temperature\":0.3", "\"temperature\":0.3,\"top_p\":0.5", StringComparison.Ordinal)));
        Assert.NotEqual(Key(Base), Key(Base.Replace("\"temperature\":0.3", "\"temperature\":0.3,\"seed\":7", StringComparison.Ordinal)));
        Assert.NotEqual(Key(Base), Key(Base.Replace("\"temperature\":0.3", "\"temperature\":0.3,\"max_tokens\":10", StringComparison.Ordinal)));
        Assert.NotEqual(Key(Base), Key(Base.Replace("\"strict\":true", "\"strict\":false", StringComparison.Ordinal)));
    }

    [Fact]
    public void Equal_numbers_written_differently_give_the_same_key()
    {
        Assert.Equal(
            Key("""{"messages":[{"role":"user","content":"x"}],"temperature":1}"""),
            Key("""{"messages":[{"role":"user","content":"x"}],"temperature":1.0}"""));
    }

    [Fact]
    public void Streaming_and_usage_reporting_change_the_key()
    {
        Assert.NotEqual(Key(Base, stream: false), Key(Base, stream: true));
        Assert.NotEqual(Key(Base, stream: true, includeUsage: false), Key(Base, stream: true, includeUsage: true));
    }

    [Fact]
    public void The_operation_changes_the_key()
    {
        using var document = JsonDocument.Parse("""{"input":"x"}""");
        Assert.NotEqual(
            CacheKey.Compute("chat", "m", document.RootElement, false, false),
            CacheKey.Compute("embeddings", "m", document.RootElement, false, false));
    }

    [Fact]
    public void Tools_change_the_key()
    {
        var withTool = Base.Replace("\"temperature\":0.3", "\"temperature\":0.3,\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"add\"}}]", StringComparison.Ordinal);
        var otherTool = withTool.Replace("\"add\"", "\"sub\"", StringComparison.Ordinal);

        Assert.NotEqual(Key(Base), Key(withTool));
        Assert.NotEqual(Key(withTool), Key(otherTool));
    }
}
