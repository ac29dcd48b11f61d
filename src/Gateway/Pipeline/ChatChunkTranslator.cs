using System.Buffers;
using System.Text.Json.Nodes;

namespace LlmMarketplace.Gateway.Pipeline;

/// <summary>
/// The reading half of a client protocol's stream translation: from each OpenAI chat chunk it takes the usage, the
/// first choice's text and tool call deltas, and its finish reason, and hands them to the protocol, which writes its
/// own events. The protocol's opening events go first, once, whatever comes.
/// </summary>
internal abstract class ChatChunkTranslator : IClientStreamTranslator
{
    /// <summary>Each tool call's position in the protocol's answer, by the call's index in the chat stream.</summary>
    private readonly Dictionary<int, int> _toolCalls = [];
    private bool _started;

    public JsonNode? Final { get; protected set; }

    /// <summary>The last finish reason the chat stream gave.</summary>
    protected string? FinishReason { get; private set; }

    /// <summary>The last usage the chat stream reported.</summary>
    protected JsonObject? ReportedUsage { get; private set; }

    public void OnChunk(JsonObject chunk, IBufferWriter<byte> output)
    {
        Start(output);
        if (chunk["usage"] is JsonObject usage) ReportedUsage = usage;
        if (chunk["choices"] is not JsonArray { Count: > 0 } choices || choices[0] is not JsonObject choice) return;
        if (choice["delta"] is JsonObject delta)
        {
            if (delta["content"]?.GetValueKind() == JsonValueKind.String && delta["content"]!.GetValue<string>() is { Length: > 0 } text)
            {
                OnText(text, output);
            }
            if (delta["tool_calls"] is JsonArray calls)
            {
                foreach (var call in calls.OfType<JsonObject>())
                {
                    var index = call["index"] is JsonValue v && v.TryGetValue<int>(out var i) ? i : 0;
                    if (!_toolCalls.TryGetValue(index, out var position))
                    {
                        position = OnToolCallStart(call, output);
                        _toolCalls[index] = position;
                    }
                    if (call["function"]?["arguments"]?.GetValue<string>() is { Length: > 0 } arguments)
                    {
                        OnToolArguments(position, arguments, output);
                    }
                }
            }
        }
        if (choice["finish_reason"]?.GetValueKind() == JsonValueKind.String) FinishReason = choice["finish_reason"]!.GetValue<string>();
    }

    public abstract void OnDone(IBufferWriter<byte> output);

    public abstract void OnError(string message, string? type, string? code, IBufferWriter<byte> output);

    /// <summary>Writes the protocol's opening events the first time it is called.</summary>
    protected void Start(IBufferWriter<byte> output)
    {
        if (_started) return;
        _started = true;
        WriteStart(output);
    }

    /// <summary>The protocol's opening events.</summary>
    protected abstract void WriteStart(IBufferWriter<byte> output);

    /// <summary>A piece of the answer's text.</summary>
    protected abstract void OnText(string text, IBufferWriter<byte> output);

    /// <summary>The first fragment of a tool call (its id and name): opens it in the protocol and returns its position there.</summary>
    protected abstract int OnToolCallStart(JsonObject call, IBufferWriter<byte> output);

    /// <summary>A piece of the arguments of the tool call at <paramref name="position"/>.</summary>
    protected abstract void OnToolArguments(int position, string arguments, IBufferWriter<byte> output);
}
