namespace LlmMarketplace.BuildingBlocks.Validation;

/// <summary>Collects every validation error with the path of the offending field, instead of stopping at the first.</summary>
public sealed class ValidationErrors
{
    private readonly Dictionary<string, List<string>> _errors = new(StringComparer.Ordinal);

    public bool IsEmpty => _errors.Count == 0;

    public int Count => _errors.Values.Sum(static v => v.Count);

    public void Add(string path, string message)
    {
        if (!_errors.TryGetValue(path, out var list))
        {
            _errors[path] = list = [];
        }
        list.Add(message);
    }

    public Dictionary<string, string[]> ToDictionary() =>
        _errors.ToDictionary(static kv => kv.Key, static kv => kv.Value.ToArray(), StringComparer.Ordinal);

    public IEnumerable<string> Lines() =>
        _errors.SelectMany(static kv => kv.Value.Select(m => $"{kv.Key}: {m}"));

    public override string ToString() => string.Join(Environment.NewLine, Lines());
}
