# shellcheck shell=bash disable=SC2154  # the shared state: lib-env.sh and env-up.sh set it
# The test PKI: a CA, server and client certificates, and the token server's signing key.
# Sourced by scripts/env-up.sh, which sets the shared state (lib-env.sh) and the
# `started`/`reused` lists of the summary.

# The keys and certificates of the test environment, made once (openssl): a CA, a server
# certificate for 127.0.0.1/localhost and a client certificate it signed, and the key and
# self-signed certificate the token server signs tokens with.
make_pki() {
    # A TLS registry another checkout started on the port: use that checkout's PKI.
    local pid foreign
    pid=$(tcp_listener_pid "$tls_registry_port")
    if [[ -n $pid ]] && ! alive "$state/registry-$tls_registry_port.pid"; then
        foreign=$(tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | sed -n 's/^REGISTRY_HTTP_TLS_CERTIFICATE=//p')
        if [[ -n $foreign && -s $(dirname "$foreign")/client.crt ]]; then
            pki=$(dirname "$foreign")
            return 0
        fi
    fi
    [[ -s $pki/client.crt && -s $pki/token.crt ]] && return 0
    command -v openssl >/dev/null || apt_install openssl
    mkdir -p "$pki"
    local o=(-days 3650 -sha256)
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$pki/ca.key" -out "$pki/ca.crt" "${o[@]}" \
        -subj "/CN=stackplan test CA" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout "$pki/server.key" -out "$pki/server.csr" \
        -subj "/CN=localhost" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$pki/server.ext"
    openssl x509 -req -in "$pki/server.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
        -out "$pki/server.crt" -extfile "$pki/server.ext" "${o[@]}" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout "$pki/client.key" -out "$pki/client.csr" \
        -subj "/CN=stackplan test client" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' > "$pki/client.ext"
    openssl x509 -req -in "$pki/client.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
        -out "$pki/client.crt" -extfile "$pki/client.ext" "${o[@]}" 2>/dev/null
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$pki/token.key" -out "$pki/token.crt" "${o[@]}" \
        -subj "/CN=stackplan-token-server" 2>/dev/null
    chmod 0600 "$pki"/*.key
    started+=("test CA, server, client and token-signing certificates in $pki")
}
