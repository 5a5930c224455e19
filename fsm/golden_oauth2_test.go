package fsm

import "strings"

// oauth2GoldenCases pins the OAuth2 provider's commands (handlers_oauth2.go);
// TestCommandEncodingIsPinned merges them into its table.
func oauth2GoldenCases() map[string]any {
	const alice, client = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
	return map[string]any{
		TypeOAuth2Consent: OAuth2Consent{Account: alice, Client: client, Scopes: []string{"email", "openid", "profile"}},
		TypeOAuth2Refresh: OAuth2Refresh{Family: "n1.fam", Generation: 2, Account: alice, Client: client, Expires: 1700086400000},
		TypeOAuth2DeviceCreate: OAuth2DeviceCreate{Device: OAuth2Device{Hash: strings.Repeat("cd", 32), UserCode: "WXYZ-2345",
			Client: client, Scopes: []string{"openid"}, Created: 1700000000000, Expires: 1700000600000, State: DevicePending}},
		TypeOAuth2DeviceDecide: OAuth2DeviceDecide{UserCode: "WXYZ-2345", Account: alice, Approve: true, Granted: []string{"openid"},
			AuthTime: 1699999990000, AMR: []string{"pwd"}},
		TypeOAuth2DeviceConsume: OAuth2DeviceConsume{Hash: strings.Repeat("cd", 32)},
	}
}
