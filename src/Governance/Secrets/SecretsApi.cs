using LlmMarketplace.Governance.Contracts;
using LlmMarketplace.BuildingBlocks.Secrets;

namespace LlmMarketplace.Governance.Secrets;

/// <summary><c>/api/v1/secrets</c>: write-only secrets. Names can be listed; values are never returned.</summary>
internal static class SecretsApi
{
    public sealed record PutSecretRequest(string? Value);

    public sealed record SecretList(IReadOnlyList<string> Data);

    public static async Task<Ok<SecretList>> ListAsync(ISecretStore store, CancellationToken cancellationToken) =>
        TypedResults.Ok(new SecretList(await store.ListAsync("", cancellationToken)));

    public static async Task<Results<NoContent, ValidationProblem>> PutAsync(HttpContext context, string name, PutSecretRequest? body, ISecretStore store, IAuditLog audit)
    {
        var errors = new ValidationErrors();
        if (!IsValidName(name)) errors.Add("name", "use 1-200 characters of a-z, 0-9, '.', '_' and '-'");
        if (string.IsNullOrEmpty(body?.Value)) errors.Add("value", "is required");
        if (!errors.IsEmpty) return TypedResults.ValidationProblem(errors.ToDictionary());
        var existed = (await store.ListAsync(name, context.RequestAborted)).Contains(name);
        await store.PutAsync(name, body!.Value!, context.RequestAborted);
        await audit.AppendAsync(AuditEntry.ForRequest(context, existed ? "secret.replaced" : "secret.created", "secret", name), context.RequestAborted);
        return TypedResults.NoContent();
    }

    public static async Task<Results<NoContent, NotFound>> DeleteAsync(HttpContext context, string name, ISecretStore store, IAuditLog audit)
    {
        if (!await store.DeleteAsync(name, context.RequestAborted)) return TypedResults.NotFound();
        await audit.AppendAsync(AuditEntry.ForRequest(context, "secret.deleted", "secret", name), context.RequestAborted);
        return TypedResults.NoContent();
    }

    private static bool IsValidName(string name) =>
        name.Length is > 0 and <= 200 && name.All(static c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '.' or '_' or '-');
}
