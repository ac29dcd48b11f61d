using System.Diagnostics;
using System.Globalization;
using System.Net;
using LlmMarketplace.Gateway.Configuration;
using LlmMarketplace.Gateway.Errors;
using LlmMarketplace.Gateway.Providers;
using LlmMarketplace.Gateway.Routing;
using LlmMarketplace.Gateway.Telemetry;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace LlmMarketplace.Gateway.Pipeline;

/// <summary>What one upstream attempt came to.</summary>
internal readonly record struct AttemptOutcome(AttemptKind Kind, UpstreamError? Error = null, TimeSpan? RetryAfter = null)
{
    public static AttemptOutcome Done => new(AttemptKind.Done);

    public static AttemptOutcome Retry(UpstreamError error, TimeSpan? retryAfter = null) => new(AttemptKind.Retry, error, retryAfter);

    public static AttemptOutcome Escalate => new(AttemptKind.Escalate);
}

internal enum AttemptKind
{
    /// <summary>The client got its answer (or a stream was committed and ended, cleanly or with an error event).</summary>
    Done,

    /// <summary>Failed before anything reached the client: try again or fall back.</summary>
    Retry,

    /// <summary>The upstream refused the request itself (a 4xx the client must fix): answer it, do not retry.</summary>
    ClientError,

    /// <summary>The client went away.</summary>
    Abandoned,

    /// <summary>
    /// The deployment answered, but a cascade's check of the answer asked for the next (stronger) deployment: move on
    /// at once, without counting a failure; nothing reached the client.
    /// </summary>
    Escalate,
}

/// <summary>
/// Sends a call to a model's deployments in routing order: retries with jittered exponential backoff on 429, 5xx,
/// timeouts and connection failures (honouring <c>retry-after</c>), falls back along the deployments, and skips
/// deployments whose circuit is open — all before the first byte reaches the client.
/// </summary>
internal sealed class UpstreamDispatcher(GatewayMetrics metrics, TimeProvider time, ILogger<UpstreamDispatcher> logger)
{
    public delegate HttpRequestMessage RequestFactory(RoutableDeployment deployment);

    /// <summary>Handles a 2xx upstream response: answer the client (return Done) or report a failure before commit (Retry).</summary>
    public delegate ValueTask<AttemptOutcome> SuccessHandler(RoutableDeployment deployment, HttpResponseMessage response, AttemptTimer timer, CancellationToken cancellationToken);

    /// <param name="onExhausted">
    /// Called when every deployment failed, before the error is answered: returns true when it answered the client itself
    /// (a cascade serves the answer it escalated from).
    /// </param>
    public async Task DispatchAsync(HttpContext context, GatewayCall call, RoutableModel model, List<RoutableDeployment> ordered, GatewaySettings settings, RequestFactory createRequest, SuccessHandler onSuccess, Func<ValueTask<bool>>? onExhausted = null)
    {
        var retry = settings.Retry;
        UpstreamError? lastError = null;
        TimeSpan? lastRetryAfter = null;
        var skippedOpen = 0;
        var aborted = context.RequestAborted;

        foreach (var deployment in ordered)
        {
            for (var attemptOnDeployment = 1; attemptOnDeployment <= retry.MaxAttemptsPerDeployment; attemptOnDeployment++)
            {
                if (call.Attempts >= retry.MaxTotalAttempts)
                {
                    goto exhausted;
                }
                if (!deployment.Health.Circuit.TryAcquire())
                {
                    skippedOpen++;
                    metrics.Attempt(deployment.Id, "circuit_open");
                    break;
                }
                call.Attempts++;
                call.Provider = deployment.Provider.Name;
                call.Deployment = deployment.Id;
                call.UpstreamModel = deployment.Config.UpstreamModel;

                AttemptOutcome outcome;
                try
                {
                    outcome = await AttemptAsync(deployment, call, createRequest, onSuccess, aborted);
                }
                catch
                {
                    // A bug or an unexpected fault: give a half-open probe slot back before the error surfaces.
                    deployment.Health.Circuit.RecordAbandoned();
                    throw;
                }
                if (outcome.Kind == AttemptKind.Escalate)
                {
                    metrics.Attempt(deployment.Id, "escalated");
                    break;
                }
                switch (outcome.Kind)
                {
                    case AttemptKind.Done:
                        metrics.Attempt(deployment.Id, EndedInFailure(call) ? "failed_after_commit" : "success");
                        return;
                    case AttemptKind.ClientError:
                        metrics.Attempt(deployment.Id, "client_error");
                        deployment.Health.Circuit.RecordSuccess();
                        call.Status = outcome.Error!.Status;
                        await OpenAIErrors.UpstreamAsync(context, outcome.Error);
                        return;
                    case AttemptKind.Abandoned:
                        metrics.Attempt(deployment.Id, "abandoned");
                        deployment.Health.Circuit.RecordAbandoned();
                        Log.ClientDisconnected(logger, deployment.Id);
                        call.Status = 499;
                        return;
                }

                if (context.Response.HasStarted)
                {
                    // Bytes already reached the client: never retry after that.
                    metrics.Attempt(deployment.Id, "failed_after_commit");
                    deployment.Health.RecordFailure();
                    return;
                }

                var wasOpen = deployment.Health.Circuit.State;
                deployment.Health.RecordFailure();
                metrics.Attempt(deployment.Id, "failure");
                if (deployment.Health.Circuit.State != wasOpen)
                {
                    Log.CircuitChanged(logger, deployment.Id, deployment.Health.Circuit.State.ToString());
                }
                lastError = outcome.Error;
                lastRetryAfter = outcome.RetryAfter;
                Log.AttemptFailed(logger, call.Attempts, deployment.Id, outcome.Error!.Message);

                if (attemptOnDeployment == retry.MaxAttemptsPerDeployment)
                {
                    break;
                }
                TimeSpan delay;
                if (outcome.RetryAfter is { } ra)
                {
                    if (ra > retry.MaxRetryAfter)
                    {
                        break; // the upstream asks for a longer wait than we accept: fall back now
                    }
                    delay = ra;
                }
                else
                {
                    var exp = retry.BaseDelay.TotalMilliseconds * Math.Pow(2, attemptOnDeployment - 1);
                    var capped = Math.Min(exp, retry.MaxDelay.TotalMilliseconds);
                    delay = TimeSpan.FromMilliseconds(capped * (0.5 + (Random.Shared.NextDouble() * 0.5)));
                }
                if (delay > TimeSpan.Zero)
                {
                    try
                    {
                        await Task.Delay(delay, time, aborted);
                    }
                    catch (OperationCanceledException)
                    {
                        call.Status = 499;
                        return;
                    }
                }
            }
        }

    exhausted:
        if (onExhausted is not null && !context.Response.HasStarted && await onExhausted())
        {
            return;
        }
        Log.AllDeploymentsFailed(logger, model.Name, call.Attempts);
        if (call.Attempts == 0 && skippedOpen > 0)
        {
            call.Status = StatusCodes.Status503ServiceUnavailable;
            context.Response.Headers.RetryAfter = CircuitBreaker.RetryAfterSeconds(ordered.Select(static d => d.Health.Circuit)).ToString(CultureInfo.InvariantCulture);
            await OpenAIErrors.WriteAsync(context, 503, $"No deployment of model '{model.Name}' is available: every circuit is open after repeated upstream failures. Try again later.", OpenAIErrors.Api, null, "no_healthy_deployment");
            return;
        }
        lastError ??= new UpstreamError(502, $"No deployment of model '{model.Name}' could be reached.", OpenAIErrors.Api, null, "upstream_error");
        if (lastError.Status == 429)
        {
            call.Status = 429;
            if (lastRetryAfter is { } after)
            {
                context.Response.Headers.RetryAfter = ((int)Math.Ceiling(after.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
                context.Response.Headers["retry-after-ms"] = ((long)after.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
            }
            await OpenAIErrors.WriteAsync(context, 429, lastError.Message, OpenAIErrors.RateLimit, null, lastError.Code ?? "rate_limit_exceeded");
            return;
        }
        var status = lastError.Status == 504 ? 504 : 502;
        call.Status = status;
        await OpenAIErrors.WriteAsync(context, status,
            $"The upstream provider failed after {call.Attempts} attempt(s): {lastError.Message}",
            OpenAIErrors.Api, null, lastError.Code ?? (status == 504 ? "upstream_timeout" : "upstream_error"));
    }

    /// <summary>
    /// A committed stream that then failed (cut, timed out, or an error event) still ends <see cref="AttemptKind.Done"/>, with a 5xx
    /// status; the handler records that failure on the deployment's health, so it must not count as a success as well.
    /// </summary>
    private static bool EndedInFailure(GatewayCall call) => call.Status >= 500;

    private async Task<AttemptOutcome> AttemptAsync(RoutableDeployment deployment, GatewayCall call, RequestFactory createRequest, SuccessHandler onSuccess, CancellationToken aborted)
    {
        var provider = deployment.Provider.Config;
        using var activity = GatewayMetrics.ActivitySource.StartActivity("gateway.upstream_attempt", ActivityKind.Client);
        activity?.SetTag("gen_ai.provider.name", provider.Name);
        activity?.SetTag("gateway.deployment", deployment.Id);
        activity?.SetTag("gen_ai.request.model", deployment.Config.UpstreamModel);
        using var totalCts = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        totalCts.CancelAfter(provider.TotalTimeout);
        using var firstByteCts = CancellationTokenSource.CreateLinkedTokenSource(totalCts.Token);
        firstByteCts.CancelAfter(provider.FirstByteTimeout);
        var timer = new AttemptTimer(time, firstByteCts);
        HttpResponseMessage? response = null;
        try
        {
            HttpRequestMessage built;
            try
            {
                built = createRequest(deployment);
            }
            catch (UnsupportedInputException ex)
            {
                return new AttemptOutcome(AttemptKind.ClientError, new UpstreamError(400, ex.Message, OpenAIErrors.InvalidRequest, ex.Param, "unsupported_input"));
            }
            using var request = built;
            try
            {
                response = await deployment.Provider.Invoker.SendAsync(request, firstByteCts.Token);
            }
            catch (OperationCanceledException) when (aborted.IsCancellationRequested)
            {
                return new AttemptOutcome(AttemptKind.Abandoned);
            }
            catch (OperationCanceledException)
            {
                return AttemptOutcome.Retry(new UpstreamError(504, $"no response within {provider.FirstByteTimeout.TotalSeconds:0.###} s", OpenAIErrors.Api, null, "upstream_timeout"));
            }
            catch (HttpRequestException ex)
            {
                return AttemptOutcome.Retry(new UpstreamError(502, $"connection to provider '{provider.Name}' failed ({ex.HttpRequestError})", OpenAIErrors.Api, null, "upstream_unreachable"));
            }
            timer.HeadersReceived();

            var status = (int)response.StatusCode;
            activity?.SetTag("http.response.status_code", status);
            if (status is >= 200 and < 300)
            {
                try
                {
                    var outcome = await onSuccess(deployment, response, timer, totalCts.Token);
                    if ((outcome.Kind == AttemptKind.Done && !EndedInFailure(call)) || outcome.Kind == AttemptKind.Escalate)
                    {
                        deployment.Health.RecordSuccess(timer.FirstByte);
                    }
                    return outcome;
                }
                catch (OperationCanceledException) when (aborted.IsCancellationRequested)
                {
                    return new AttemptOutcome(AttemptKind.Abandoned);
                }
                catch (OperationCanceledException)
                {
                    return AttemptOutcome.Retry(new UpstreamError(504, "the upstream answer did not complete in time", OpenAIErrors.Api, null, "upstream_timeout"));
                }
                catch (Exception ex) when (ex is HttpRequestException or IOException)
                {
                    return AttemptOutcome.Retry(new UpstreamError(502, "the upstream connection failed while reading the answer", OpenAIErrors.Api, null, "upstream_error"));
                }
                catch (System.Text.Json.JsonException)
                {
                    return AttemptOutcome.Retry(new UpstreamError(502, "the upstream provider sent a malformed answer", OpenAIErrors.Api, null, "upstream_error"));
                }
            }

            var body = await ReadErrorBodyAsync(response, totalCts.Token);
            var error = deployment.Provider.Adapter.ReadError(status, body);
            var retryAfter = RetryAfter(response, time);
            if (IsRetryable(status))
            {
                return AttemptOutcome.Retry(error, retryAfter);
            }
            return new AttemptOutcome(AttemptKind.ClientError, error);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            return new AttemptOutcome(AttemptKind.Abandoned);
        }
        catch (OperationCanceledException)
        {
            return AttemptOutcome.Retry(new UpstreamError(504, "the upstream did not answer in time", OpenAIErrors.Api, null, "upstream_timeout"));
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            return AttemptOutcome.Retry(new UpstreamError(502, "the upstream connection failed", OpenAIErrors.Api, null, "upstream_error"));
        }
        finally
        {
            response?.Dispose();
        }
    }

    /// <summary>Statuses worth another attempt (possibly elsewhere): throttling, server faults, and provider-side credential problems.</summary>
    internal static bool IsRetryable(int status) => status is 401 or 403 or 408 or 409 or 425 or 429 or >= 500;

    private static async Task<byte[]> ReadErrorBodyAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        var buffer = new byte[64 * 1024];
        var length = 0;
        while (length < buffer.Length)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken);
            if (read == 0) break;
            length += read;
        }
        return buffer[..length];
    }

    internal static TimeSpan? RetryAfter(HttpResponseMessage response, TimeProvider time)
    {
        if (response.Headers.TryGetValues("retry-after-ms", out var ms) &&
            double.TryParse(ms.FirstOrDefault(), NumberStyles.Float, CultureInfo.InvariantCulture, out var millis) && millis >= 0)
        {
            return TimeSpan.FromMilliseconds(millis);
        }
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta)
        {
            return delta;
        }
        if (header?.Date is { } date)
        {
            var wait = date - time.GetUtcNow();
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }
        return null;
    }
}

/// <summary>Times one attempt: the wait for the upstream's headers and first byte, and the whole.</summary>
internal sealed class AttemptTimer(TimeProvider time, CancellationTokenSource firstByte)
{
    private readonly long _start = time.GetTimestamp();
    private long _firstByte;

    public TimeSpan FirstByte => _firstByte == 0 ? Elapsed : time.GetElapsedTime(_start, _firstByte);

    public TimeSpan Elapsed => time.GetElapsedTime(_start);

    public void HeadersReceived()
    {
        // Non-streaming answers count the whole body; streams reset the first-byte clock at their first event.
    }

    /// <summary>The first byte of the answer arrived: the first-byte timeout no longer applies.</summary>
    public void FirstByteReceived()
    {
        if (_firstByte == 0)
        {
            _firstByte = time.GetTimestamp();
            firstByte.CancelAfter(Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>The token that fires on the first-byte timeout (and on the total timeout and client abort).</summary>
    public CancellationToken FirstByteToken => firstByte.Token;

    public static string Format(TimeSpan t) => t.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture);
}
