# syntax=docker/dockerfile:1
# Build: the .NET SDK publishes llm-marketplace (the same `dotnet publish` the tests run).
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/Host/Host.csproj -c Release -o /app --nologo

# Run: the chiseled ASP.NET runtime (no shell, no package manager), as the non-root user it ships with.
FROM mcr.microsoft.com/dotnet/aspnet:10.0-noble-chiseled
WORKDIR /app
COPY --from=build /app .
USER $APP_UID
ENV LLMM__STORAGE__DATADIRECTORY=/data \
    DOTNET_gcServer=1
VOLUME ["/data"]
EXPOSE 8080
ENTRYPOINT ["dotnet", "/app/llm-marketplace.dll"]
CMD ["serve", "--urls", "http://0.0.0.0:8080", "--data", "/data"]
