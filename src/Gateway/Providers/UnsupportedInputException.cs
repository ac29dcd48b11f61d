namespace LlmMarketplace.Gateway.Providers;

/// <summary>
/// Thrown while building an upstream request for input that the provider cannot take (for example an image by URL where
/// the provider takes only image bytes): the client gets a 400 naming <see cref="Param"/>, not a 500.
/// </summary>
internal sealed class UnsupportedInputException(string message, string? param = null) : Exception(message)
{
    public string? Param { get; } = param;
}
