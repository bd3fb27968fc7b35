// A real OpenID Provider for the single sign-on tests: node-oidc-provider (OpenID
// Certified) with its development login and consent pages, one confidential client, and
// accounts whose groups come from the environment.
//
//   ISSUER=http://127.0.0.1:PORT  PORT=…  CLIENT_ID=…  CLIENT_SECRET=…  REDIRECT_URI=…
//   JWKS='{"keys":[…private RSA JWK…]}'  ACCOUNTS_FILE=/path/accounts.json
//
// ACCOUNTS_FILE holds {"login": ["group", …], …} and is read at every sign-in, so a test
// can change someone's groups between two sign-ins.
// It prints "listening" on stdout once it accepts connections.
import { readFileSync } from "node:fs";
import Provider from "oidc-provider";

const env = process.env;
const groupsOf = (id) => JSON.parse(readFileSync(env.ACCOUNTS_FILE, "utf8"))[id] || [];

const configuration = {
  clients: [
    {
      client_id: env.CLIENT_ID,
      client_secret: env.CLIENT_SECRET,
      redirect_uris: [env.REDIRECT_URI],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  jwks: JSON.parse(env.JWKS),
  pkce: { required: () => true },
  scopes: ["openid", "email", "profile"],
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["name", "groups"],
  },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: `${id}@northwind.example`,
          email_verified: true,
          name: id,
          groups: groupsOf(id),
        };
      },
    };
  },
};

const provider = new Provider(env.ISSUER, configuration);
// The tests talk plain HTTP on loopback; the provider wants to know it is not behind TLS.
provider.proxy = false;
const server = provider.listen(Number(env.PORT), "127.0.0.1", () => {
  process.stdout.write("listening\n");
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
