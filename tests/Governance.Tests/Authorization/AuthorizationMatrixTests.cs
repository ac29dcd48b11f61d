using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;

namespace LlmMarketplace.Governance.Tests.Authorization;

/// <summary>
/// Every endpoint of the OpenAPI document, called by anonymous and by a real caller of every role, gets exactly the access
/// intended. An endpoint missing from <see cref="Expected"/> fails the test: whoever adds an endpoint declares who may call it here.
/// </summary>
public sealed class AuthorizationMatrixTests
{
    /// <summary>Who may call an endpoint: each level admits the roles of the levels below it in this list.</summary>
    public enum Access
    {
        /// <summary>Anyone, without credentials.</summary>
        Public,
        /// <summary>Any authenticated caller (every role, service accounts, API keys).</summary>
        Authenticated,
        /// <summary>viewer, approver, admin, super_admin.</summary>
        Viewer,
        /// <summary>approver, admin, super_admin.</summary>
        Approver,
        /// <summary>admin, super_admin.</summary>
        Admin,
        /// <summary>super_admin only.</summary>
        SuperAdmin,
    }

    /// <summary>The intended access of every endpoint, keyed "METHOD /path/{template}". Add a line for every new endpoint.</summary>
    public static readonly Dictionary<string, Access> Expected = new(StringComparer.Ordinal)
    {
        // Gateway (data plane and administration)
        ["POST /v1/chat/completions"] = Access.Authenticated,
        ["POST /v1/embeddings"] = Access.Authenticated,
        ["POST /v1/rerank"] = Access.Authenticated,
        ["POST /v1/moderations"] = Access.Authenticated,
        ["POST /v1/images/generations"] = Access.Authenticated,
        ["POST /v1/audio/speech"] = Access.Authenticated,
        ["POST /v1/audio/transcriptions"] = Access.Authenticated,
        ["GET /v1/models"] = Access.Authenticated,
        ["GET /v1/models/{id}"] = Access.Authenticated,
        ["POST /v1/responses"] = Access.Authenticated,
        ["GET /v1/responses/{id}"] = Access.Authenticated,
        ["DELETE /v1/responses/{id}"] = Access.Authenticated,
        ["GET /v1/responses/{id}/input_items"] = Access.Authenticated,
        ["POST /v1/messages"] = Access.Authenticated,
        ["POST /v1/messages/count_tokens"] = Access.Authenticated,
        ["GET /api/v1/gateway/deployments"] = Access.Admin,
        ["POST /api/v1/gateway/deployments/{model}/{deployment}/reset"] = Access.Admin,
        ["POST /api/v1/gateway/deployments/{model}/{deployment}/probe"] = Access.Admin,
        ["DELETE /api/v1/gateway/cache/semantic"] = Access.Admin,

        // Governance: authentication
        ["POST /api/v1/auth/login"] = Access.Public,
        ["POST /api/v1/auth/password"] = Access.Public,
        ["POST /api/v1/auth/refresh"] = Access.Public,
        ["GET /api/v1/auth/oidc/login"] = Access.Public,
        ["GET /api/v1/auth/oidc/callback"] = Access.Public,
        ["POST /api/v1/auth/oidc/token"] = Access.Public,
        ["POST /api/v1/auth/logout"] = Access.Authenticated,
        ["GET /api/v1/auth/me"] = Access.Authenticated,
        ["GET /api/v1/auth/me/export"] = Access.Authenticated,

        // Governance: users and service accounts
        ["GET /api/v1/users"] = Access.Admin,
        ["POST /api/v1/users"] = Access.Admin,
        ["GET /api/v1/users/{id}"] = Access.Admin,
        ["PUT /api/v1/users/{id}/roles"] = Access.Admin,
        ["PUT /api/v1/users/{id}/teams"] = Access.Admin,
        ["POST /api/v1/users/{id}/unlock"] = Access.Admin,
        ["POST /api/v1/users/{id}/disable"] = Access.Admin,
        ["POST /api/v1/users/{id}/enable"] = Access.Admin,
        ["GET /api/v1/users/{id}/export"] = Access.Admin,
        ["POST /api/v1/users/{id}/erase"] = Access.SuperAdmin,
        ["GET /api/v1/service-accounts"] = Access.Admin,
        ["POST /api/v1/service-accounts"] = Access.Admin,
        ["POST /api/v1/service-accounts/{id}/tokens"] = Access.Admin,
        ["DELETE /api/v1/service-accounts/{id}"] = Access.Admin,

        // Governance: audit, policies, secrets
        ["GET /api/v1/audit"] = Access.Admin,
        ["GET /api/v1/audit/verify"] = Access.Admin,
        ["GET /api/v1/policies"] = Access.Viewer,
        ["GET /api/v1/policies/{id}"] = Access.Viewer,
        ["POST /api/v1/policies"] = Access.Admin,
        ["PUT /api/v1/policies/{id}"] = Access.Admin,
        ["DELETE /api/v1/policies/{id}"] = Access.Admin,
        ["POST /api/v1/policies/reload"] = Access.Admin,
        ["POST /api/v1/policies/dry-run"] = Access.Viewer,
        ["GET /api/v1/governance/compliance/violations"] = Access.Admin,
        ["GET /api/v1/secrets"] = Access.Admin,
        ["PUT /api/v1/secrets/{name}"] = Access.Admin,
        ["DELETE /api/v1/secrets/{name}"] = Access.Admin,

        // Access: any caller acts within its own teams (ownership is checked inside); admins manage everything.
        ["POST /api/v1/keys"] = Access.Authenticated,
        ["GET /api/v1/keys"] = Access.Authenticated,
        ["GET /api/v1/keys/{id}"] = Access.Authenticated,
        ["DELETE /api/v1/keys/{id}"] = Access.Authenticated,
        ["POST /api/v1/keys/{id}/rotate"] = Access.Authenticated,
        ["POST /api/v1/teams"] = Access.Admin,
        ["GET /api/v1/teams"] = Access.Authenticated,
        ["POST /api/v1/apps"] = Access.Authenticated,
        ["GET /api/v1/apps"] = Access.Authenticated,
        ["POST /api/v1/budgets"] = Access.Admin,
        ["GET /api/v1/budgets"] = Access.Authenticated,
        ["DELETE /api/v1/budgets/{id}"] = Access.Admin,
        ["POST /api/v1/plans"] = Access.Admin,
        ["GET /api/v1/plans"] = Access.Authenticated,
        ["POST /api/v1/subscriptions"] = Access.Authenticated,
        ["GET /api/v1/subscriptions"] = Access.Authenticated,
        ["POST /api/v1/subscriptions/{id}/{action}"] = Access.Authenticated,
        ["GET /api/v1/usage"] = Access.Authenticated,
        ["GET /api/v1/statements"] = Access.Authenticated,
        ["GET /api/v1/statements/publisher"] = Access.Authenticated,
        ["POST /api/v1/statements/adjustments"] = Access.Admin,

        // Insights: optimizer
        ["POST /v1/feedback"] = Access.Authenticated,
        ["GET /api/v1/feedback"] = Access.Authenticated,
        ["POST /api/v1/experiments"] = Access.Admin,
        ["GET /api/v1/experiments"] = Access.Viewer,
        ["GET /api/v1/experiments/{id}"] = Access.Viewer,
        ["GET /api/v1/experiments/{id}/results"] = Access.Viewer,
        ["POST /api/v1/experiments/{id}/stop"] = Access.Admin,
        ["POST /api/v1/experiments/{id}/promote"] = Access.Admin,

        // Shield
        ["POST /api/v1/shield/scan"] = Access.Authenticated,

        // Catalog: browsing needs credentials unless Catalog:PublicBrowsing; publishers are admins, or team members for
        // their own teams (these role-only callers have no team, hence Admin here); approvals need approver.
        ["GET /api/v1/search"] = Access.Authenticated,
        ["GET /api/v1/autocomplete"] = Access.Authenticated,
        ["GET /api/v1/trending"] = Access.Authenticated,
        ["GET /api/v1/recommendations"] = Access.Authenticated,
        ["GET /api/v1/services/{id}"] = Access.Authenticated,
        ["GET /api/v1/services/{id}/versions/{version}"] = Access.Authenticated,
        ["GET /api/v1/services/{id}/similar"] = Access.Authenticated,
        ["GET /api/v1/services/{id}/reviews"] = Access.Authenticated,
        ["POST /api/v1/services/{id}/reviews"] = Access.Authenticated,
        ["POST /api/v1/services"] = Access.Admin,
        ["POST /api/v1/services/{id}/versions"] = Access.Admin,
        ["POST /api/v1/services/{id}/versions/{version}/submit"] = Access.Admin,
        ["POST /api/v1/services/{id}/versions/{version}/deprecate"] = Access.Admin,
        ["POST /api/v1/services/{id}/versions/{version}/retire"] = Access.Admin,
        ["GET /api/v1/approvals"] = Access.Approver,
        ["POST /api/v1/approvals/{versionId}/approve"] = Access.Approver,
        ["POST /api/v1/approvals/{versionId}/reject"] = Access.Approver,
        ["POST /api/v1/catalog/import"] = Access.Admin,
        ["GET /api/v1/catalog/sources"] = Access.Admin,
        ["POST /api/v1/catalog/sources/{name}/sync"] = Access.Admin,

        // Insights: analytics (admins and viewers see everything, others their teams), SLA
        ["GET /api/v1/analytics/timeseries"] = Access.Authenticated,
        ["GET /api/v1/analytics/breakdown"] = Access.Authenticated,
        ["GET /api/v1/analytics/summary"] = Access.Authenticated,
        // Publisher analytics: any caller; the listing's publishing team (or an admin or viewer) reads it, others get 403.
        ["GET /api/v1/analytics/publisher"] = Access.Authenticated,
        ["GET /api/v1/analytics/publisher/listings"] = Access.Authenticated,
        ["GET /api/v1/sla"] = Access.Authenticated,
        ["GET /api/v1/sla/violations"] = Access.Authenticated,
        // Insights: alerts (viewers read; admins act and manage webhooks)
        ["GET /api/v1/alerts"] = Access.Viewer,
        ["GET /api/v1/alerts/{id}"] = Access.Viewer,
        ["POST /api/v1/alerts/{id}/acknowledge"] = Access.Admin,
        ["POST /api/v1/alerts/{id}/resolve"] = Access.Admin,
        ["POST /api/v1/alerts/webhooks"] = Access.Admin,
        ["GET /api/v1/alerts/webhooks"] = Access.Admin,
        ["DELETE /api/v1/alerts/webhooks/{id}"] = Access.Admin,
        ["GET /api/v1/alerts/webhooks/{id}/deliveries"] = Access.Admin,
    };

    private static readonly (string Role, Access Level)[] RoleLevels =
    [
        (Roles.SuperAdmin, Access.SuperAdmin),
        (Roles.Admin, Access.Admin),
        (Roles.Approver, Access.Approver),
        (Roles.Viewer, Access.Viewer),
        (Roles.ServiceAccount, Access.Authenticated),
    ];

    [Fact]
    public async Task Every_endpoint_in_the_openapi_document_gives_each_role_exactly_the_intended_access()
    {
        await using var host = await Gov.StartAsync();
        using var anonymous = Gov.Anonymous(host);
        var document = JsonDocument.Parse(await anonymous.GetStringAsync("openapi/v1.json")).RootElement;
        var endpoints = new List<(string Method, string Path)>();
        foreach (var path in document.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject())
            {
                if (operation.Name is "parameters" or "summary" or "description" or "servers") continue;
                endpoints.Add((operation.Name.ToUpperInvariant(), path.Name));
            }
        }
        var keys = endpoints.Select(static e => $"{e.Method} {e.Path}").ToHashSet(StringComparer.Ordinal);
        var undeclared = keys.Where(k => !Expected.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        Assert.True(undeclared.Count == 0, "Endpoints without a declared expectation (add them to AuthorizationMatrixTests.Expected): " + string.Join(", ", undeclared));
        var stale = Expected.Keys.Where(k => !keys.Contains(k)).ToList();
        Assert.True(stale.Count == 0, "Expectations for endpoints that no longer exist: " + string.Join(", ", stale));

        var callers = new List<(string Name, HttpClient Client, Access Level)> { ("anonymous", anonymous, Access.Public) };
        foreach (var (role, level) in RoleLevels.Where(static r => r.Role != Roles.ServiceAccount))
        {
            callers.Add((role, await Gov.ClientForRoleAsync(host, role), level));
        }
        using (var created = await host.Client.PostAsJsonAsync("api/v1/service-accounts", new { name = Gov.Unique("matrix") }))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            var token = (await Gov.JsonAsync(created)).GetProperty("token").GetString()!;
            callers.Add((Roles.ServiceAccount, Gov.WithToken(host, token), Access.Authenticated));
        }

        var failures = new List<string>();
        // Logout ends the caller's session, so it goes last.
        foreach (var (method, path) in endpoints.OrderBy(static e => e.Path.EndsWith("/logout", StringComparison.Ordinal)))
        {
            var expected = Expected[$"{method} {path}"];
            foreach (var (name, client, level) in callers)
            {
                using var request = new HttpRequestMessage(new HttpMethod(method), path.TrimStart('/').Replace("{", "x", StringComparison.Ordinal).Replace("}", "", StringComparison.Ordinal));
                if (method is "POST" or "PUT" or "PATCH")
                {
                    request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
                }
                using var response = await client.SendAsync(request);
                var status = (int)response.StatusCode;
                var allowed = expected == Access.Public || (name != "anonymous" && Admits(level, expected));
                var ok = allowed
                    ? status is not (401 or 403) && status < 500
                    : status == (name == "anonymous" ? 401 : 403);
                if (!ok)
                {
                    failures.Add($"{method} {path} as {name}: got {status}, expected {(allowed ? "access (not 401/403/5xx)" : name == "anonymous" ? "401" : "403")}");
                }
            }
        }
        foreach (var (_, client, _) in callers.Skip(1)) client.Dispose();
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    /// <summary>A caller whose highest level is <paramref name="caller"/> may call an endpoint of level <paramref name="endpoint"/>.</summary>
    private static bool Admits(Access caller, Access endpoint) => endpoint == Access.Authenticated || (caller >= endpoint && caller != Access.Authenticated);

    [Fact]
    public async Task Every_routed_endpoint_declares_its_access_in_metadata_and_only_health_openapi_and_login_are_anonymous()
    {
        await using var host = await Gov.StartAsync();
        var sources = host.Service<IEnumerable<EndpointDataSource>>();
        var undeclared = new List<string>();
        var anonymous = new List<string>();
        foreach (var endpoint in sources.SelectMany(static s => s.Endpoints).OfType<RouteEndpoint>())
        {
            if (endpoint.Metadata.GetMetadata<IExcludeFromDescriptionMetadata>() is { ExcludeFromDescription: true }) continue;
            var name = endpoint.RoutePattern.RawText ?? endpoint.DisplayName ?? "?";
            if (endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null)
            {
                anonymous.Add(name);
            }
            else if (!endpoint.Metadata.GetOrderedMetadata<IAuthorizeData>().Any(static a => a.Policy is not null || a.Roles is not null))
            {
                undeclared.Add(name);
            }
        }
        Assert.Empty(undeclared);
        Assert.Equal(
            ["/api/v1/auth/login", "/api/v1/auth/oidc/callback", "/api/v1/auth/oidc/login", "/api/v1/auth/oidc/token", "/api/v1/auth/password", "/api/v1/auth/refresh", "/health/live", "/health/ready"],
            anonymous.Order(StringComparer.Ordinal).ToArray());

        using var client = Gov.Anonymous(host);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("openapi/v1.json")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("metrics")).StatusCode);
    }
}
