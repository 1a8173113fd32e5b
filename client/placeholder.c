int client_placeholder;
