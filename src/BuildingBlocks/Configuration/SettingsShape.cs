using System.Collections;
using System.Reflection;
using LlmMarketplace.BuildingBlocks.Validation;
using Microsoft.Extensions.Configuration;

namespace LlmMarketplace.BuildingBlocks.Configuration;

/// <summary>
/// Which settings a configuration section may hold: a value, an object with named members, a list, a map with free
/// keys, or anything (a section whose content another library owns, such as <c>Logging</c>). Modules declare the
/// shape of their sections, from their options types or by hand where they read the section themselves; the host
/// checks the whole configuration against them, so a misspelled section or key is an error with a "did you mean"
/// instead of a setting silently ignored.
/// </summary>
public abstract class SettingsShape
{
    /// <summary>A single value (text, number, switch, duration).</summary>
    public static readonly SettingsShape Value = new ValueShape();

    /// <summary>Any content: not checked here.</summary>
    public static readonly SettingsShape Anything = new AnythingShape();

    public static SettingsShape Object(params (string Key, SettingsShape Shape)[] members) => new ObjectShape(members);

    public static SettingsShape Values(params string[] keys) => new ObjectShape(keys.Select(static k => (k, Value)));

    public static SettingsShape ListOf(SettingsShape item) => new ListShape(item);

    public static SettingsShape MapOf(SettingsShape value) => new MapShape(value);

    /// <summary>The shape the configuration binder gives <typeparamref name="T"/>: its public properties, recursively.</summary>
    public static SettingsShape Of<T>() => Of(typeof(T), depth: 0);

    /// <summary>This object shape with more members (e.g. subsections another options type binds).</summary>
    public SettingsShape With(params (string Key, SettingsShape Shape)[] members) =>
        this is ObjectShape o ? new ObjectShape(o.Declared.Concat(members)) : throw new InvalidOperationException("Only an object shape takes members.");

    /// <summary>Adds an error for every setting under <paramref name="section"/> that this shape does not know.</summary>
    public void Check(IConfigurationSection section, string path, ValidationErrors errors)
    {
        switch (this)
        {
            case ObjectShape o:
                foreach (var child in section.GetChildren())
                {
                    if (o.Members.TryGetValue(child.Key, out var member))
                    {
                        member.Check(child, Join(path, o.Names[child.Key]), errors);
                    }
                    else
                    {
                        errors.Add(Join(path, child.Key), Unknown(child.Key, o.Names.Values, "setting"));
                    }
                }
                break;
            case ListShape l:
                foreach (var child in section.GetChildren())
                {
                    l.Item.Check(child, $"{path}[{child.Key}]", errors);
                }
                break;
            case MapShape m:
                foreach (var child in section.GetChildren())
                {
                    m.Item.Check(child, Join(path, child.Key), errors);
                }
                break;
            case ValueShape when section.Value is null && section.GetChildren().Any():
                errors.Add(path, "is a single value, not a section");
                break;
        }
    }

    /// <summary>Checks a whole configuration against this (root) shape.</summary>
    public ValidationErrors Check(IConfiguration configuration)
    {
        var errors = new ValidationErrors();
        if (this is not ObjectShape o) return errors;
        foreach (var child in configuration.GetChildren())
        {
            if (o.Members.TryGetValue(child.Key, out var member)) member.Check(child, o.Names[child.Key], errors);
            else errors.Add(child.Key, Unknown(child.Key, o.Names.Values, "section"));
        }
        return errors;
    }

    private static string Unknown(string key, IEnumerable<string> known, string what)
    {
        var names = known.Order(StringComparer.Ordinal).ToList();
        return Suggestions.Closest(key, names) is { } near
            ? $"is not a known {what}; did you mean '{near}'?"
            : $"is not a known {what} (known: {string.Join(", ", names)})";
    }

    private static string Join(string path, string key) => path.Length == 0 ? key : $"{path}.{key}";

    private static SettingsShape Of(Type type, int depth)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (IsValue(type)) return Value;
        if (depth > 8) return Anything;
        if (DictionaryValueType(type) is { } valueType) return new MapShape(Of(valueType, depth + 1));
        if (type.IsArray) return new ListShape(Of(type.GetElementType()!, depth + 1));
        if (EnumerableItemType(type) is { } itemType) return new ListShape(Of(itemType, depth + 1));
        var members = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(static p => p.GetIndexParameters().Length == 0)
            // A value without a setter is computed from the settings (RedisOptions.IsConfigured), not one: the binder
            // cannot set it, so naming it in the configuration is an error like any unknown key. Collections and objects
            // without a setter are still bound into.
            .Where(static p => p.CanWrite || !IsValue(Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType))
            .Select(p => (p.Name, Of(p.PropertyType, depth + 1)));
        return new ObjectShape(members);
    }

    private static bool IsValue(Type type) =>
        type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal) || type == typeof(TimeSpan)
        || type == typeof(DateTime) || type == typeof(DateTimeOffset) || type == typeof(Uri) || type == typeof(Guid);

    private static Type? DictionaryValueType(Type type) =>
        Interfaces(type).FirstOrDefault(static i => i.IsGenericType && i.GetGenericTypeDefinition() is var d
            && (d == typeof(IDictionary<,>) || d == typeof(IReadOnlyDictionary<,>)))?.GetGenericArguments()[1];

    private static Type? EnumerableItemType(Type type) =>
        typeof(IEnumerable).IsAssignableFrom(type)
            ? Interfaces(type).FirstOrDefault(static i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>))?.GetGenericArguments()[0]
            : null;

    private static IEnumerable<Type> Interfaces(Type type) => type.IsInterface ? type.GetInterfaces().Prepend(type) : type.GetInterfaces();

    private sealed class ValueShape : SettingsShape;

    private sealed class AnythingShape : SettingsShape;

    private sealed class ObjectShape(IEnumerable<(string Key, SettingsShape Shape)> members) : SettingsShape
    {
        private readonly (string Key, SettingsShape Shape)[] _declared = members.ToArray();

        public Dictionary<string, SettingsShape> Members => field ??= Collect(_declared, static m => m.Shape);

        /// <summary>The declared spelling of each member (configuration keys are case-insensitive).</summary>
        public Dictionary<string, string> Names => field ??= Collect(_declared, static m => m.Key);

        public IEnumerable<(string Key, SettingsShape Shape)> Declared => _declared;

        private static Dictionary<string, T> Collect<T>((string Key, SettingsShape Shape)[] members, Func<(string Key, SettingsShape Shape), T> select)
        {
            var result = new Dictionary<string, T>(StringComparer.OrdinalIgnoreCase);
            foreach (var m in members) result[m.Key] = select(m); // a later declaration refines an earlier one
            return result;
        }
    }

    private sealed class ListShape(SettingsShape item) : SettingsShape
    {
        public SettingsShape Item { get; } = item;
    }

    private sealed class MapShape(SettingsShape item) : SettingsShape
    {
        public SettingsShape Item { get; } = item;
    }
}
