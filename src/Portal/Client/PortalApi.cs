using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace LlmMarketplace.Portal.Client;

/// <summary>An API answer: the status, the JSON body, and for problem details their title, detail and field errors.</summary>
public sealed record ApiResult(int Status, JsonNode? Body, string? Text, string? Title, string? Detail, IReadOnlyDictionary<string, string[]> Errors)
{
    public bool Ok => Status is >= 200 and < 300;

    public T? As<T>() => Body is null ? default : Body.Deserialize<T>(PortalApi.Json);

    /// <summary>A sentence for a person: the detail, the title, or every field error.</summary>
    public string Message => Errors.Count > 0
        ? string.Join("; ", Errors.Select(static e => (e.Key is "$" or "" ? "" : e.Key + ": ") + string.Join(", ", e.Value)))
        : Detail ?? Title ?? $"The server answered {Status}.";

    /// <summary>The field errors at <paramref name="path"/> (a JSON path such as <c>deployments[0].baseUrl</c>).</summary>
    public string? ErrorAt(string path) => Errors.TryGetValue(path, out var e) ? string.Join(" ", e) : null;
}

/// <summary>The marketplace API as the signed-in user: every call carries their access token, refreshed when it expires.</summary>
internal sealed class PortalApi(PortalHttp http, PortalSession session)
{
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    public Uri BaseAddress => http.BaseAddress;

    public async Task<ApiResult> LoginAsync(string username, string password, CancellationToken ct = default)
    {
        var result = await SendCoreAsync(HttpMethod.Post, "api/v1/auth/login", new { username, password }, null, null, ct);
        if (!result.Ok) return result;
        var access = result.Body?["accessToken"]?.GetValue<string>() ?? "";
        var refresh = result.Body?["refreshToken"]?.GetValue<string>();
        return await StartAsync(access, refresh, ct) ?? result;
    }

    /// <summary>Begins a session with tokens obtained elsewhere (single sign-on); answers the failure when the token is refused.</summary>
    public async Task<ApiResult?> StartAsync(string accessToken, string? refreshToken, CancellationToken ct = default)
    {
        var me = await SendCoreAsync(HttpMethod.Get, "api/v1/auth/me", null, null, accessToken, ct);
        if (!me.Ok) return me;
        await session.SetAsync(new SessionState(accessToken, refreshToken, me.As<Principal>()!));
        return null;
    }

    /// <summary>Ends the session at the API (its tokens stop working); the caller removes the cookie.</summary>
    public async Task RevokeAsync(SessionState state, CancellationToken ct = default)
    {
        try
        {
            await SendCoreAsync(HttpMethod.Post, "api/v1/auth/logout", null, null, state.AccessToken, ct);
        }
        catch (HttpRequestException)
        {
            // Signing out locally is what matters to the person; the session also ends on its own.
        }
    }

    public Task<ApiResult> GetAsync(string path, CancellationToken ct = default) => SendAsync(HttpMethod.Get, path, null, ct);

    public async Task<T?> GetAsync<T>(string path, CancellationToken ct = default)
    {
        var result = await SendAsync(HttpMethod.Get, path, null, ct);
        return result.Ok ? result.As<T>() : default;
    }

    public Task<ApiResult> PostAsync(string path, object? body, CancellationToken ct = default) => SendAsync(HttpMethod.Post, path, body, ct);

    public Task<ApiResult> PutAsync(string path, object? body, CancellationToken ct = default) => SendAsync(HttpMethod.Put, path, body, ct);

    public Task<ApiResult> DeleteAsync(string path, CancellationToken ct = default) => SendAsync(HttpMethod.Delete, path, null, ct);

    /// <summary>Sends text with its own media type (e.g. a policy in YAML).</summary>
    public Task<ApiResult> SendTextAsync(HttpMethod method, string path, string text, string mediaType, CancellationToken ct = default) =>
        SendWithRefreshAsync(token => SendCoreAsync(method, path, null, (text, mediaType), token, ct), ct);

    public Task<ApiResult> SendAsync(HttpMethod method, string path, object? body, CancellationToken ct = default) =>
        SendWithRefreshAsync(token => SendCoreAsync(method, path, body, null, token, ct), ct);

    private async Task<ApiResult> SendWithRefreshAsync(Func<string?, Task<ApiResult>> send, CancellationToken ct)
    {
        var result = await send(session.State?.AccessToken);
        if (result.Status != 401 || session.State?.RefreshToken is not { } refresh) return result;
        var renewed = await SendCoreAsync(HttpMethod.Post, "api/v1/auth/refresh", new { refreshToken = refresh }, null, null, ct);
        if (!renewed.Ok)
        {
            await session.SetAsync(null);
            return result;
        }
        var state = session.State! with
        {
            AccessToken = renewed.Body?["accessToken"]?.GetValue<string>() ?? "",
            RefreshToken = renewed.Body?["refreshToken"]?.GetValue<string>(),
        };
        await session.SetAsync(state);
        return await send(state.AccessToken);
    }

    private async Task<ApiResult> SendCoreAsync(HttpMethod method, string path, object? body, (string Text, string MediaType)? text, string? token, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, http.Url(path));
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (text is { } t) request.Content = new StringContent(t.Text, Encoding.UTF8, t.MediaType);
        else if (body is not null) request.Content = JsonContent.Create(body, body.GetType(), options: Json);
        using var response = await http.Client.SendAsync(request, ct);
        return await ReadAsync(response, ct);
    }

    internal static async Task<ApiResult> ReadAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var status = (int)response.StatusCode;
        var raw = await response.Content.ReadAsStringAsync(ct);
        var mediaType = response.Content.Headers.ContentType?.MediaType ?? "";
        JsonNode? node = null;
        if (raw.Length > 0 && mediaType.Contains("json", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                node = JsonNode.Parse(raw);
            }
            catch (JsonException)
            {
                node = null;
            }
        }
        string? title = null, detail = null;
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (status >= 400)
        {
            title = node?["title"]?.GetValue<string>() ?? node?["error"]?["type"]?.GetValue<string>();
            detail = node?["detail"]?.GetValue<string>() ?? node?["error"]?["message"]?.GetValue<string>();
            if (node?["errors"] is JsonObject fieldErrors)
            {
                foreach (var (key, value) in fieldErrors)
                {
                    errors[key] = value is JsonArray a ? a.Select(static v => v?.ToString() ?? "").ToArray() : [value?.ToString() ?? ""];
                }
            }
            if (status == (int)HttpStatusCode.Forbidden && detail is null) detail = "You are not allowed to do this.";
            if (status == (int)HttpStatusCode.Unauthorized && detail is null) detail = "Sign in to continue.";
        }
        return new ApiResult(status, node, raw, title, detail, errors);
    }
}
