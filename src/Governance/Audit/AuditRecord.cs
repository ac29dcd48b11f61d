using System.Security.Cryptography;

namespace LlmMarketplace.Governance.Audit;

/// <summary>One stored audit entry, as the chain hashes it.</summary>
internal sealed record AuditRecord
{
    public const string GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000";

    public long Seq { get; init; }
    public long AtMs { get; init; }
    public string Action { get; init; } = "";
    public string Outcome { get; init; } = "";
    public string ActorId { get; init; } = "";
    public string ActorKind { get; init; } = "";
    public string? TargetType { get; init; }
    public string? TargetId { get; init; }
    public string? Ip { get; init; }
    public string? BeforeJson { get; init; }
    public string? AfterJson { get; init; }
    public string PrevHash { get; init; } = "";
    public string Hash { get; init; } = "";

    /// <summary>
    /// SHA-256 (lower-case hex) over a canonical serialization of every field but the hash itself: a JSON array in a
    /// fixed order, so field boundaries are unambiguous.
    /// </summary>
    public string ComputeHash()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            writer.WriteNumberValue(1); // format version of the canonical form
            writer.WriteNumberValue(Seq);
            writer.WriteNumberValue(AtMs);
            writer.WriteStringValue(Action);
            writer.WriteStringValue(Outcome);
            writer.WriteStringValue(ActorId);
            writer.WriteStringValue(ActorKind);
            WriteNullable(writer, TargetType);
            WriteNullable(writer, TargetId);
            WriteNullable(writer, Ip);
            WriteNullable(writer, BeforeJson);
            WriteNullable(writer, AfterJson);
            writer.WriteStringValue(PrevHash);
            writer.WriteEndArray();
        }
        return Convert.ToHexStringLower(SHA256.HashData(buffer.WrittenSpan));
    }

    public string At => DateTimeOffset.FromUnixTimeMilliseconds(AtMs).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static void WriteNullable(Utf8JsonWriter writer, string? value)
    {
        if (value is null) writer.WriteNullValue(); else writer.WriteStringValue(value);
    }

    /// <summary>The API's view of an entry.</summary>
    public AuditEntryDto ToDto() => new(
        Seq, At, Action, Outcome, ActorId, ActorKind, TargetType, TargetId, Ip,
        BeforeJson is null ? null : JsonDocument.Parse(BeforeJson).RootElement,
        AfterJson is null ? null : JsonDocument.Parse(AfterJson).RootElement,
        PrevHash, Hash);
}

public sealed record AuditEntryDto(
    long Seq, string At, string Action, string Outcome, string ActorId, string ActorKind,
    string? TargetType, string? TargetId, string? Ip, JsonElement? Before, JsonElement? After, string PrevHash, string Hash);

/// <summary>The result of checking the chain: intact, or the first entry whose link is broken and why.</summary>
public sealed record AuditVerification(bool Intact, long Checked, long? FirstBrokenSeq, string? Reason, string? HeadHash)
{
    public override string ToString() => Intact
        ? string.Create(CultureInfo.InvariantCulture, $"The audit trail is intact: {Checked} entries verified, head {HeadHash}.")
        : string.Create(CultureInfo.InvariantCulture, $"The audit trail is BROKEN at entry {FirstBrokenSeq}: {Reason} ({Checked} entries checked before it).");
}
