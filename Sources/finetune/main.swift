print("finetune: coming soon")
