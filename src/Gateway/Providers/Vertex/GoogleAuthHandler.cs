using System.Net.Http.Headers;
using Google.Apis.Auth.OAuth2;
using Google.Apis.Auth.OAuth2.Responses;
using LlmMarketplace.Gateway.Configuration;

namespace LlmMarketplace.Gateway.Providers.Vertex;

/// <summary>
/// Puts a Google OAuth access token on each request to a <c>vertex</c> provider: from its service-account key, or from
/// Application Default Credentials (workload identity, the metadata server, <c>GOOGLE_APPLICATION_CREDENTIALS</c>) when
/// it has none. Google.Apis.Auth exchanges and caches the token, refreshing it shortly before it expires.
/// </summary>
internal sealed class GoogleAuthHandler : DelegatingHandler
{
    public const string CloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform";

    private readonly Lazy<Task<ITokenAccess>> _credential;

    public GoogleAuthHandler(ProviderConfig provider, HttpMessageHandler inner) : base(inner)
    {
        var json = provider.Vertex?.CredentialsJson;
        _credential = new(() => LoadAsync(json), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    private static async Task<ITokenAccess> LoadAsync(string? json)
    {
        var credential = json is null
            ? await GoogleCredential.GetApplicationDefaultAsync()
            : CredentialFactory.FromJson(json, CredentialType(json));
        return credential.CreateScoped(CloudPlatformScope);
    }

    /// <summary>The key file's <c>type</c> (<c>service_account</c>, <c>external_account</c>, <c>authorized_user</c>…).</summary>
    internal static string CredentialType(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String
            ? type.GetString()!
            : JsonCredentialParameters.ServiceAccountCredentialType;
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        string token;
        try
        {
            token = await (await _credential.Value).GetAccessTokenForRequestAsync(request.RequestUri?.ToString(), cancellationToken);
        }
        catch (Exception ex) when (ex is TokenResponseException or InvalidOperationException or IOException)
        {
            // The token exchange failed (a revoked key, an unreachable token endpoint): an authentication failure, not a 500.
            return new HttpResponseMessage(System.Net.HttpStatusCode.Unauthorized)
            {
                RequestMessage = request,
                Content = new StringContent(
                    JsonSerializer.Serialize(new { error = new { code = 401, message = "Google rejected the provider's credentials: " + (ex is TokenResponseException t ? $"{t.Error?.Error} {t.Error?.ErrorDescription}".Trim() : "token exchange failed"), status = "UNAUTHENTICATED" } }),
                    System.Text.Encoding.UTF8, "application/json"),
            };
        }
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await base.SendAsync(request, cancellationToken);
    }
}
