"""Writes test/fixtures/lora/: tiny random Llama and GPT-2 bases (Hugging Face folders) with a PEFT LoRA adapter each
(written by PEFT itself, B nonzero) and the adapted model's reference logits (float64). Run once with transformers +
peft + torch (see /work/shared/docs/PLATFORM.md); the tests read the committed files only."""
import json, os, sys
import torch
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM
from peft import LoraConfig, get_peft_model

out = sys.argv[1]
torch.manual_seed(0)
ids = torch.tensor([[1, 5, 9, 14, 3, 27, 31, 8, 60, 2]])

def perturb(model):
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "norm" in n or "ln_" in n:
                p.add_(0.1 * torch.randn_like(p))

def write(name, base, lcfg):
    d = os.path.join(out, name)
    perturb(base)
    base.save_pretrained(os.path.join(d, "base"), safe_serialization=True)
    peft = get_peft_model(base, lcfg)
    peft.save_pretrained(os.path.join(d, "adapter"))
    peft = peft.double().eval()
    with torch.no_grad():
        logits = peft(ids).logits[0]
        base_logits = peft.get_base_model()
        with peft.disable_adapter():
            plain = peft(ids).logits[0]
    json.dump({"ids": ids[0].tolist(), "logits": logits.tolist(), "baseLogits": plain.tolist()}, open(os.path.join(d, "logits.json"), "w"))
    print(name, "max |adapted - base| =", (logits - plain).abs().max().item())

llama = LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                                     num_key_value_heads=2, max_position_embeddings=64, tie_word_embeddings=False, rms_norm_eps=1e-5))
write("llama", llama, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.05, init_lora_weights=False, task_type="CAUSAL_LM",
                                 target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]))
gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=64, n_embd=32, n_layer=2, n_head=4, n_positions=64, bos_token_id=0, eos_token_id=0))
write("gpt2", gpt2, LoraConfig(r=4, lora_alpha=16, init_lora_weights=False, task_type="CAUSAL_LM", fan_in_fan_out=True,
                               target_modules=["c_attn", "c_proj", "c_fc"]))
