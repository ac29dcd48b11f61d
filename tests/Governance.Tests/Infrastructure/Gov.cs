using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace LlmMarketplace.Governance.Tests.Infrastructure;

/// <summary>Helpers to start the real host and act as users with real logins.</summary>
public static class Gov
{
    public const string Password = "correct horse battery staple 7";

    /// <summary>A config with no upstream: management API only.</summary>
    public const string EmptyConfig = "Gateway:\n  ConnectTimeoutSeconds: 5\n";

    /// <summary>The fake clock the time-driven tests start from: 2026-03-01 10:00 UTC.</summary>
    public static FakeTimeProvider Clock() => new(new DateTimeOffset(2026, 3, 1, 10, 0, 0, TimeSpan.Zero));

    public static Task<GatewayHost> StartAsync(string? yaml = null, FakeTimeProvider? time = null, IReadOnlyDictionary<string, string?>? overrides = null) =>
        GatewayHost.StartAsync(yaml ?? EmptyConfig, Merge(overrides), UseClock(time));

    /// <summary>Starts the host on a fresh storage of <paramref name="provider"/> (SQLite or PostgreSQL), dropped with the host.</summary>
    public static Task<GatewayHost> StartOnAsync(string provider, string? yaml = null, FakeTimeProvider? time = null, IReadOnlyDictionary<string, string?>? overrides = null) =>
        GatewayHost.StartOnAsync(provider, yaml ?? EmptyConfig, overrides, UseClock(time));

    private static Action<IServiceCollection>? UseClock(FakeTimeProvider? time) =>
        time is null ? null : services => services.AddSingleton<TimeProvider>(time);

    private static Dictionary<string, string?> Merge(IReadOnlyDictionary<string, string?>? overrides)
    {
        var all = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var (k, v) in overrides ?? new Dictionary<string, string?>()) all[k] = v;
        return all;
    }


    public static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..10]}";

    /// <summary>Creates a user through the API with the master key; returns its id and user name.</summary>
    public static async Task<(string Id, string Username)> CreateUserAsync(GatewayHost host, string? role, string[]? teams = null, string? username = null)
    {
        username ??= Unique("user");
        using var response = await host.Client.PostAsJsonAsync("api/v1/users", new
        {
            username,
            password = Password,
            roles = role is null ? Array.Empty<string>() : [role],
            teams = (teams ?? []).Select(static t => new { id = t, name = t }).ToArray(),
            displayName = "Test Person",
            email = username + "@example.test",
        });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (json.GetProperty("user").GetProperty("id").GetString()!, username);
    }

    public static async Task<HttpResponseMessage> LoginAsync(GatewayHost host, string username, string password)
    {
        using var anonymous = Anonymous(host);
        return await anonymous.PostAsJsonAsync("api/v1/auth/login", new { username, password });
    }

    /// <summary>Logs in and returns the token pair as JSON.</summary>
    public static async Task<JsonElement> TokensAsync(GatewayHost host, string username, string password = Password)
    {
        using var response = await LoginAsync(host, username, password);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>A client whose calls carry a fresh access token of a new user with this role.</summary>
    public static async Task<HttpClient> ClientForRoleAsync(GatewayHost host, string role, string[]? teams = null)
    {
        var (_, username) = await CreateUserAsync(host, role, teams);
        var tokens = await TokensAsync(host, username);
        return WithToken(host, tokens.GetProperty("accessToken").GetString()!);
    }

    public static HttpClient WithToken(GatewayHost host, string token)
    {
        var client = Anonymous(host);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    public static HttpClient Anonymous(GatewayHost host) => new() { BaseAddress = host.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };

    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response) => await response.Content.ReadFromJsonAsync<JsonElement>();
}
