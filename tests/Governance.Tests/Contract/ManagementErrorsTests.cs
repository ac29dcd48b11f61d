namespace LlmMarketplace.Governance.Tests.Contract;

/// <summary>Every refusal of the management API is RFC 9457 problem details; 400s name every bad field.</summary>
public sealed class ManagementErrorsTests : IAsyncLifetime
{
    private GatewayHost _host = null!;

    public async Task InitializeAsync() => _host = await Gov.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    private static HttpContent Json(string json) => new StringContent(json, Encoding.UTF8, "application/json");

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(body).RootElement;
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("title").GetString()));
        return problem;
    }

    private static async Task<JsonElement> ErrorsAsync(HttpResponseMessage response, params string[] fields)
    {
        var problem = await ProblemAsync(response, HttpStatusCode.BadRequest);
        var errors = problem.GetProperty("errors");
        foreach (var field in fields)
        {
            Assert.True(errors.TryGetProperty(field, out var messages), $"no error for '{field}' in {errors}");
            Assert.NotEqual(0, messages.GetArrayLength());
        }
        return errors;
    }

    [Fact]
    public async Task A_body_field_of_the_wrong_type_is_named()
    {
        using var secret = await _host.Client.PutAsync("api/v1/secrets/x", Json("""{"value":{}}"""));
        await ErrorsAsync(secret, "value");

        using var user = await _host.Client.PostAsync("api/v1/users", Json("""{"username":"someone","mustChangePassword":{}}"""));
        await ErrorsAsync(user, "mustChangePassword");

        using var notJson = await _host.Client.PostAsync("api/v1/users", Json("""{"username":"""));
        await ErrorsAsync(notJson, "username");

        using var notObject = await _host.Client.PostAsync("api/v1/users", Json("[1]"));
        await ErrorsAsync(notObject, "body");
    }

    [Fact]
    public async Task Query_values_are_checked_all_at_once_and_unknown_parameters_named()
    {
        using var single = await _host.Client.GetAsync("api/v1/keys?includeRevoked=null");
        await ErrorsAsync(single, "includeRevoked");

        using var several = await _host.Client.GetAsync("api/v1/users?limit=ten&offset=x&colour=blue");
        var errors = await ErrorsAsync(several, "limit", "offset", "colour");
        Assert.Contains("limit", errors.GetProperty("colour")[0].GetString());

        // A parameter the handler reads by hand (declared on the endpoint) is known; an unknown one is not.
        using var usage = await _host.Client.GetAsync("api/v1/usage?limit=5&teamId=t1");
        Assert.Equal(HttpStatusCode.OK, usage.StatusCode);
        using var unknown = await _host.Client.GetAsync("api/v1/usage?limit=5&tem=t1");
        await ErrorsAsync(unknown, "tem");
    }

    [Fact]
    public async Task Invalid_text_in_a_json_body_is_a_400_naming_the_field()
    {
        using var surrogate = await _host.Client.PostAsync("api/v1/shield/scan", Json("""{"text":"\ud800"}"""));
        await ErrorsAsync(surrogate, "text");

        var bytes = Encoding.UTF8.GetBytes("""{"username":"x","displayName":"__"}""");
        var at = Array.IndexOf(bytes, (byte)'_');
        bytes[at] = 0xC3;
        bytes[at + 1] = 0x28; // an invalid UTF-8 sequence
        using var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var invalid = await _host.Client.PostAsync("api/v1/users", content);
        await ErrorsAsync(invalid, "displayName");
    }

    [Fact]
    public async Task Unknown_ids_answer_404_problem_details()
    {
        using var alert = await _host.Client.PostAsync("api/v1/alerts/0/acknowledge", null);
        await ProblemAsync(alert, HttpStatusCode.NotFound);

        using var key = await _host.Client.GetAsync("api/v1/keys/does-not-exist");
        await ProblemAsync(key, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_wrong_method_is_405_with_allow()
    {
        using var response = await _host.Client.DeleteAsync("api/v1/teams");
        await ProblemAsync(response, HttpStatusCode.MethodNotAllowed);
        Assert.Contains("GET", response.Content.Headers.Allow);
    }

    [Fact]
    public async Task An_unsupported_media_type_is_415()
    {
        using var text = await _host.Client.PostAsync("api/v1/teams", new StringContent("""{"name":"x"}""", Encoding.UTF8, "text/plain"));
        var problem = await ProblemAsync(text, HttpStatusCode.UnsupportedMediaType);
        Assert.Contains("text/plain", problem.GetProperty("detail").GetString());

        using var inferred = await _host.Client.PostAsync("api/v1/users", new StringContent("""{"username":"x"}""", Encoding.UTF8, "text/plain"));
        await ProblemAsync(inferred, HttpStatusCode.UnsupportedMediaType);
    }

    [Fact]
    public async Task Unauthenticated_calls_are_401_problem_details()
    {
        using var anonymous = Gov.Anonymous(_host);
        using var response = await anonymous.GetAsync("api/v1/keys?bogus=1");
        await ProblemAsync(response, HttpStatusCode.Unauthorized);
    }
}
