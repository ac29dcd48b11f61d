namespace LlmMarketplace.Shield.Tests.Infrastructure;

/// <summary>What the shield tests that go through team policies set up through the management API of the real host.</summary>
public static class TeamPolicies
{
    /// <summary>A new team with its own API key; returns the team id and a client calling with that key.</summary>
    public static async Task<(string TeamId, HttpClient Client)> TeamCallerAsync(GatewayHost host)
    {
        using var team = await host.Client.PostAsJsonAsync("api/v1/teams", new { name = "team-" + Guid.NewGuid().ToString("N")[..10] });
        Assert.Equal(HttpStatusCode.Created, team.StatusCode);
        var teamId = (await team.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        using var key = await host.Client.PostAsJsonAsync("api/v1/keys", new { name = "caller", team = teamId });
        Assert.Equal(HttpStatusCode.Created, key.StatusCode);
        var secret = (await key.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;
        var client = new HttpClient { BaseAddress = host.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        return (teamId, client);
    }

    /// <summary>Stores a policy (YAML) through the API and returns its id.</summary>
    public static async Task<string> PolicyAsync(GatewayHost host, string yaml)
    {
        using var response = await host.Client.PostAsync("api/v1/policies", new StringContent(yaml, Encoding.UTF8, "application/yaml"));
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }

    /// <summary>A word found nowhere else, put in a prompt to find the request that carried it upstream.</summary>
    public static string Marker() => "marker" + Guid.NewGuid().ToString("N")[..12].Replace('0', 'x');

    /// <summary>A unique name for a policy: <paramref name="prefix"/> and a random suffix.</summary>
    public static string Name(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..8];
}
