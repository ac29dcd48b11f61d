using LlmMarketplace.Gateway.Audio;

namespace LlmMarketplace.Gateway.Tests.Operations;

/// <summary>The audio's file name as forwarded upstream: whatever the client sent, one a multipart header can carry.</summary>
public sealed class TranscriptionFileNameTests
{
    [Theory]
    [InlineData("speech.wav", "speech.wav")]
    [InlineData("a b.mp3", "a b.mp3")]
    [InlineData("漢字 ü.wav", "漢字 ü.wav")]
    [InlineData("../../etc/passwd", "passwd")]
    [InlineData("C:\\audio\\take 1.m4a", "take 1.m4a")]
    [InlineData("x\"y.wav", "x_y.wav")]
    [InlineData("line\r\nX-Injected: 1.wav", "line__X-Injected: 1.wav")]
    [InlineData("tab\there.ogg", "tab_here.ogg")]
    [InlineData("   ", "audio")]
    [InlineData("dir/", "audio")]
    [InlineData("", "audio")]
    public void A_file_name_keeps_its_name_and_extension_without_what_a_header_cannot_carry(string sent, string forwarded) =>
        Assert.Equal(forwarded, TranscriptionsHandler.UpstreamFileName(sent));

    [Fact]
    public void A_huge_file_name_is_cut_to_255_characters_keeping_its_extension()
    {
        var name = TranscriptionsHandler.UpstreamFileName(new string('a', 20_000) + ".flac");

        Assert.Equal(255, name.Length);
        Assert.EndsWith("a.flac", name, StringComparison.Ordinal);
    }
}
