int worker_placeholder;
