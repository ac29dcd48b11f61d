using Amazon.Runtime;
using Amazon.Runtime.Credentials;
using Amazon.Runtime.Internal;
using Amazon.Runtime.Internal.Auth;
using LlmMarketplace.Gateway.Configuration;

namespace LlmMarketplace.Gateway.Providers.Bedrock;

/// <summary>
/// Signs each request to a <c>bedrock</c> provider with AWS Signature Version 4 (AWSSDK.Core's <see cref="AWS4Signer"/>,
/// service <c>bedrock</c>), with the provider's keys or, when it has none, the default AWS credential chain
/// (environment, profile, web identity, container and instance metadata).
/// </summary>
internal sealed class AwsSigV4Handler : DelegatingHandler
{
    private const string ServiceName = "bedrock";

    private readonly AWS4Signer _signer = new();
    private readonly SigningConfig _config;
    private readonly AWSCredentials? _keys;
    private readonly Lazy<AWSCredentials> _chain;

    public AwsSigV4Handler(ProviderConfig provider, HttpMessageHandler inner) : base(inner)
    {
        _config = new SigningConfig(provider.Region ?? throw new InvalidOperationException("A bedrock provider needs a Region."));
        _keys = provider.Aws switch
        {
            { SessionToken: { Length: > 0 } token } keys => new SessionAWSCredentials(keys.AccessKeyId, keys.SecretAccessKey, token),
            { } keys => new BasicAWSCredentials(keys.AccessKeyId, keys.SecretAccessKey),
            null => null,
        };
        _chain = new(static () => DefaultAWSCredentialsIdentityResolver.GetCredentials(), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var identity = _keys ?? _chain.Value;
        var credentials = await identity.GetCredentialsAsync();
        var uri = request.RequestUri!;
        var body = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken);
        var signing = new DefaultRequest(new SignedCall(), "BedrockRuntime")
        {
            HttpMethod = request.Method.Method,
            Endpoint = new Uri(uri.GetLeftPart(UriPartial.Authority)),
            Content = body,
            AuthenticationRegion = _config.AuthenticationRegion,
        };
        // As the SDK's own marshallers do: the path as a template whose segments are the raw values (a model id with its
        // ':'), which the signer escapes for the canonical request the way AWS expects (twice, for services other than S3).
        var segments = uri.AbsolutePath.Split('/');
        var template = new System.Text.StringBuilder();
        for (var i = 1; i < segments.Length; i++)
        {
            var key = "{s" + i.ToString(System.Globalization.CultureInfo.InvariantCulture) + "}";
            template.Append('/').Append(key);
            signing.AddPathResource(key, Uri.UnescapeDataString(segments[i]));
        }
        signing.ResourcePath = template.ToString();
        signing.Headers["Content-Type"] = request.Content?.Headers.ContentType?.ToString() ?? "application/json";
        if (credentials.UseToken)
        {
            signing.Headers["X-Amz-Security-Token"] = credentials.Token;
        }
        _signer.Sign(signing, _config, new Amazon.Runtime.Internal.Util.RequestMetrics(), identity);
        foreach (var (name, value) in signing.Headers)
        {
            if (name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase) || name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) || name.Equals("Host", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            request.Headers.Remove(name);
            request.Headers.TryAddWithoutValidation(name, value);
        }
        return await base.SendAsync(request, cancellationToken);
    }

    private sealed class SignedCall : AmazonWebServiceRequest;

    /// <summary>What the signer reads of a client configuration: the region and the service name.</summary>
    private sealed class SigningConfig : ClientConfig
    {
        public SigningConfig(string region) : base(new DefaultConfigurationProvider([new DefaultConfiguration { Name = DefaultConfigurationMode.Standard }]))
        {
            AuthenticationRegion = region;
            AuthenticationServiceName = ServiceName;
        }

        public override string ServiceVersion => "2023-09-30";

        public override string UserAgent => "llm-marketplace";

        public override string RegionEndpointServiceName => "bedrock-runtime";

        // The gateway sends to the provider's URL itself; the signer never asks the configuration for an endpoint.
        public override Amazon.Runtime.Endpoints.Endpoint DetermineServiceOperationEndpoint(Amazon.Runtime.Endpoints.ServiceOperationEndpointParameters parameters) =>
            throw new NotSupportedException();
    }
}
