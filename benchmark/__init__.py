"""cgbench runner: tasks, configs, the shared evaluation loop and the leaderboard."""
