using Microsoft.Extensions.Configuration;

namespace LlmMarketplace.BuildingBlocks.Validation;

/// <summary>How a module reads its settings at start: one section bound to its options record, checked before anything runs.</summary>
public static class ModuleSettings
{
    /// <summary>
    /// Binds <paramref name="section"/> to <typeparamref name="T"/> (its defaults when the section is absent), lets
    /// <paramref name="validate"/> report what is wrong, and fails the start with every error at once.
    /// </summary>
    public static T ReadValidated<T>(this IConfiguration configuration, string section, Action<T, ValidationErrors> validate) where T : new()
    {
        var options = configuration.GetSection(section).Get<T>() ?? new T();
        var errors = new ValidationErrors();
        validate(options, errors);
        if (!errors.IsEmpty) throw new InvalidConfigurationException(errors);
        return options;
    }
}
