# The privrec command in a static image: distroless, no shell, non-root.
#
#   docker build -t privrec .
#   docker run --rm -p 8080:8080 -v "$PWD/models:/models:ro" privrec
#
# The default command serves /models/model.prm and needs no key. For a
# release, mount the key as a secret file readable only by the image's user
# (uid 65532), never as an environment value:
#   docker run --rm -v "$PWD/data:/data" \
#     --mount type=bind,src="$PWD/privrec.key",dst=/run/secrets/privrec.key,ro \
#     -e PRIVREC_KEY_FILE=/run/secrets/privrec.key privrec \
#     build --events /data/events.csv --ledger /data/budget.ledger --epsilon 1 --delta 1e-6 --out /data/model.prm
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/privrec ./cmd/privrec

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/privrec /usr/local/bin/privrec
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/privrec"]
CMD ["serve", "--model", "/models/model.prm", "--addr", ":8080"]
